//! Third-party corpus: real CloudTrail and Azure records published by others
//! (`../shared/corpus`, beside the checkout). Skipped with a notice when the folder is absent.

use std::path::PathBuf;

use cadet_core::{Action, Policy, Severity};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; corpus tests skipped", dir.display());
        None
    }
}

struct Outcome {
    verdicts: Vec<(String, Severity)>,
    none: usize,
    context: usize,
    errors: Vec<String>,
}

fn run(path: &std::path::Path) -> Outcome {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let policy = Policy::default();
    let mut out = Outcome {
        verdicts: Vec::new(),
        none: 0,
        context: 0,
        errors: Vec::new(),
    };
    for (pos, raw) in cadet_core::records(&text) {
        match raw.and_then(cadet_core::normalize_raw) {
            Ok(Some(ev)) if ev.action == Action::Context => out.context += 1,
            Ok(Some(ev)) => {
                let v = cadet_core::score(&ev, &policy);
                out.verdicts.push((ev.operation.clone(), v.severity));
            }
            Ok(None) => out.none += 1,
            Err(e) => out.errors.push(format!("{pos}: {e}")),
        }
    }
    out
}

#[test]
fn stratus_send_command_scores_at_least_medium() {
    let Some(dir) = corpus() else { return };
    for file in [
        "aws.execution.ssm-send-command.json",
        "aws.credential-access.ec2-steal-instance-credentials.json",
    ] {
        let o = run(&dir.join("aws/stratus-red-team").join(file));
        assert!(o.errors.is_empty(), "{file}: {:?}", o.errors);
        let sends: Vec<_> = o
            .verdicts
            .iter()
            .filter(|(op, _)| op == "ssm:SendCommand")
            .collect();
        assert_eq!(sends.len(), 1, "{file}: {:?}", o.verdicts);
        assert!(sends[0].1 >= Severity::Medium, "{file}: {:?}", sends[0]);
        assert_eq!(
            o.verdicts.len(),
            1,
            "{file}: only SendCommand gets a verdict: {:?}",
            o.verdicts
        );
    }
}

#[test]
fn stratus_start_session_gives_three_verdicts_and_terminate_none() {
    let Some(dir) = corpus() else { return };
    let o = run(&dir.join("aws/stratus-red-team/aws.execution.ssm-start-session.json"));
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let starts = o
        .verdicts
        .iter()
        .filter(|(op, _)| op == "ssm:StartSession")
        .count();
    assert_eq!(starts, 3, "{:?}", o.verdicts);
    assert_eq!(
        o.verdicts.len(),
        3,
        "TerminateSession must not get a verdict: {:?}",
        o.verdicts
    );
    assert!(o.none >= 3);
}

/// Stratus Red Team's CloudTrail tampering detonations (T1562.008): each is one audit-tamper
/// verdict at high or above, on the stateless score alone.
const STRATUS_TAMPER: [(&str, &str); 3] = [
    (
        "aws.defense-evasion.cloudtrail-stop.json",
        "cloudtrail:StopLogging",
    ),
    (
        "aws.defense-evasion.cloudtrail-delete.json",
        "cloudtrail:DeleteTrail",
    ),
    (
        "aws.defense-evasion.cloudtrail-event-selectors.json",
        "cloudtrail:PutEventSelectors",
    ),
];

#[test]
fn stratus_cloudtrail_tampering_scores_high() {
    let Some(dir) = corpus() else { return };
    for (file, operation) in STRATUS_TAMPER {
        let path = dir.join("aws/stratus-red-team").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let events: Vec<_> = cadet_core::records(&text)
            .into_iter()
            .filter_map(|(pos, raw)| {
                raw.and_then(cadet_core::normalize_raw)
                    .unwrap_or_else(|e| panic!("{file}: {pos}: {e}"))
            })
            .collect();
        assert_eq!(events.len(), 1, "{file}");
        let e = &events[0];
        assert_eq!(
            (e.operation.as_str(), e.action),
            (operation, Action::AuditTamper)
        );
        assert!(e.tamper.is_some(), "{file}");
        let v = cadet_core::score(e, &Policy::default());
        assert!(
            v.severity >= Severity::High,
            "{file}: {} {:?}",
            v.risk_score,
            v.signals
        );
        let f = cadet_core::Finding::from_verdict(&v);
        assert_eq!(f.technique, "T1562.008", "{file}");
    }
}

/// Stratus Red Team's direct-connection and boot-script detonations: one verdict per key push
/// or user-data write, with the technique ATT&CK files them under.
const STRATUS_VM_ACCESS: [(&str, &str, usize, &str); 3] = [
    (
        "aws.lateral-movement.ec2-instance-connect.json",
        "vm_connect",
        3,
        "T1021.008",
    ),
    (
        "aws.lateral-movement.ec2-serial-console-send-ssh-public-key.json",
        "vm_connect",
        4,
        "T1021.008",
    ),
    (
        "aws.execution.ec2-user-data.json",
        "boot_script",
        1,
        "T1651",
    ),
];

#[test]
fn stratus_key_pushes_and_user_data_are_scored_with_their_technique() {
    let Some(dir) = corpus() else { return };
    for (file, action, n, technique) in STRATUS_VM_ACCESS {
        let path = dir.join("aws/stratus-red-team").join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut seen = 0;
        for (pos, raw) in cadet_core::records(&text) {
            let Some(e) = raw
                .and_then(cadet_core::normalize_raw)
                .unwrap_or_else(|e| panic!("{file}: {pos}: {e}"))
            else {
                continue;
            };
            if e.action == Action::Context {
                // The stop and the start around a user-data write: context for the chain.
                assert!(
                    matches!(
                        e.operation.as_str(),
                        "ec2:StopInstances" | "ec2:StartInstances"
                    ),
                    "{file}: {}",
                    e.operation
                );
                continue;
            }
            seen += 1;
            assert_eq!(e.action.as_str(), action, "{file}: {}", e.operation);
            let v = cadet_core::score(&e, &Policy::default());
            // Stratus's own user agent makes each of them at least high on its own.
            assert!(
                v.severity >= Severity::High,
                "{file}: {} {:?}",
                v.risk_score,
                v.signals
            );
            assert_eq!(cadet_core::Finding::from_verdict(&v).technique, technique);
            if e.operation.ends_with("SSHPublicKey") {
                // The key's fingerprint names the episode; the key itself is never kept.
                let id = e.command_id.as_deref().unwrap_or("");
                assert!(id.starts_with("ssh-key:") && id.len() == 24, "{id}");
                assert!(
                    !format!("{e:?}").contains("AAAAC3"),
                    "the key is not in the event"
                );
                assert_eq!(e.targets.ids.len(), 1);
            }
        }
        // The 34 DescribeInstances records give no verdict; StopInstances and StartInstances
        // are context.
        assert_eq!(seen, n, "{file}");
        if action == "vm_connect" && n == 3 {
            // One key pushed to three instances: one fingerprint, three targets.
            let ids: std::collections::BTreeSet<String> = cadet_core::records(&text)
                .into_iter()
                .filter_map(|(_, raw)| raw.ok().and_then(|r| cadet_core::normalize_raw(r).ok()))
                .flatten()
                .filter_map(|e| e.command_id)
                .collect();
            assert_eq!(ids.len(), 1, "{ids:?}");
        }
    }
}

/// Stratus's `ec2-user-data`, replayed in event-time order with history: the stop is context,
/// the user-data write alerts, and the start that runs it is a finding of the chain.
#[test]
fn stratus_stop_write_start_is_one_chain_ending_at_the_start() {
    let Some(dir) = corpus() else { return };
    let path = dir.join("aws/stratus-red-team/aws.execution.ec2-user-data.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    let mut events: Vec<cadet_core::CommandEvent> = cadet_core::records(&text)
        .into_iter()
        .filter_map(|(pos, raw)| {
            raw.and_then(cadet_core::normalize_raw)
                .unwrap_or_else(|e| panic!("{pos}: {e}"))
        })
        .collect();
    events.sort_by_key(|e| e.event_time);
    let store = cadet_state::MemoryStore::default();
    let policy = Policy::default();
    let mut out = Vec::new();
    for e in &events {
        match cadet_core::baseline::process(&store, e, &policy) {
            Ok(cadet_core::baseline::Processed::Verdict(v)) => out.push(*v),
            Ok(_) => {}
            Err(err) => panic!("{}: {err}", e.operation),
        }
    }
    let ops: Vec<&str> = out.iter().map(|v| v.event.operation.as_str()).collect();
    assert_eq!(ops, ["ec2:ModifyInstanceAttribute", "ec2:StartInstances"]);
    assert!(out[0].severity >= Severity::High, "{:?}", out[0].signals);
    let start = &out[1];
    let chain = start
        .signals
        .iter()
        .find(|s| s.id == cadet_core::SignalId::BootScriptStarted)
        .unwrap_or_else(|| panic!("no chain: {:?}", start.signals));
    assert!(
        chain
            .reason
            .starts_with("instance stopped, user data replaced")
            && chain.reason.contains("1 seconds"),
        "{}",
        chain.reason
    );
    assert!(start.severity >= Severity::Medium, "{:?}", start.signals);
    assert_eq!(start.event.targets.ids, ["i-DDd6c7B0e18F0E35f"]);
    assert_eq!(cadet_core::Finding::from_verdict(start).technique, "T1651");
}

#[test]
fn other_techniques_and_otrf_give_no_verdict_and_no_error() {
    let Some(dir) = corpus() else { return };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("aws/stratus-red-team"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            n != "aws.execution.ssm-send-command.json"
                && n != "aws.execution.ssm-start-session.json"
                && n != "aws.credential-access.ec2-steal-instance-credentials.json"
                && !STRATUS_TAMPER.iter().any(|(f, _)| *f == n)
                && !STRATUS_VM_ACCESS.iter().any(|(f, ..)| *f == n)
        })
        .collect();
    files.push(dir.join("aws/otrf/ec2_proxy_s3_exfiltration_2020-09-14011940.json"));
    assert!(files.len() >= 27, "{}", files.len());
    let mut records = 0;
    for f in &files {
        let o = run(f);
        records += o.none + o.context;
        assert!(o.errors.is_empty(), "{}: {:?}", f.display(), o.errors);
        assert!(o.verdicts.is_empty(), "{}: {:?}", f.display(), o.verdicts);
    }
    assert!(records > 200, "only {records} records read");
}

#[test]
fn azure_docs_samples_parse_and_stratus_run_command_is_scored() {
    let Some(dir) = corpus() else { return };
    for f in [
        "azure/ms-docs/subscription-events-doc-samples.json",
        "azure/ms-docs/activity-log-records-schema-sample.json",
        "azure/ms-docs/activity-log-rest-schema-administrative-sample.json",
    ] {
        let o = run(&dir.join(f));
        assert!(o.errors.is_empty(), "{f}: {:?}", o.errors);
        assert!(
            o.verdicts.is_empty(),
            "{f}: storage/NSG/support operations are not T1651"
        );
        assert!(o.none >= 1, "{f}");
    }
    let o = run(&dir.join("azure/stratus-red-team/azure-vm-run-command-sample-redacted.json"));
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.verdicts.len(), 1);
    assert_eq!(
        o.verdicts[0].0,
        "Microsoft.Compute/virtualMachines/runCommand/action"
    );
    // Datadog's reshaped record is not a raw Azure shape: rejected with a reason, not a panic.
    let o = run(&dir.join("azure/stratus-red-team/azure-vm-custom-script-extension-sample-redacted-DatadogFormat.json"));
    assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
    assert!(
        o.errors[0].contains("unrecognized event shape"),
        "{:?}",
        o.errors
    );
}
