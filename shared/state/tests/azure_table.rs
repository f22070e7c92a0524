//! The Azure Table store against Azurite, started here on a free loopback port.
//!
//! Azurite comes from the repository's package-lock.json (`npm ci`, which `make test` runs).
//! If it is missing these tests fail and say so: they never skip silently.
#![cfg(feature = "azure-table")]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cadet_core::baseline::{Put, Version};
use cadet_core::profile::Profile;
use cadet_core::{AsyncBaselineStore, Policy, Processed};
use cadet_state::azure_table::{AzureTableError, AzureTableStore, ConnectionString};

const DEV_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite table service; killed on drop (also when a test panics).
struct Azurite {
    child: Child,
    port: u16,
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn azurite_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../node_modules/.bin/azurite-table")
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    l.local_addr().unwrap_or_else(|e| panic!("{e}")).port()
}

fn start_azurite() -> Azurite {
    let bin = azurite_bin();
    assert!(
        bin.exists(),
        "Azurite is not installed ({} is missing): run `npm ci` in the repository root \
         (`make test` does it)",
        bin.display()
    );
    for _ in 0..3 {
        let port = free_port();
        let mut child = Command::new(&bin)
            .args(["--tableHost", "127.0.0.1", "--tablePort"])
            .arg(port.to_string())
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--loose",
            ])
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e} (run `npm ci`)", bin.display()));
        let stdout = child.stdout.take();
        let started = Instant::now();
        let mut ok = false;
        if let Some(out) = stdout {
            let mut lines = BufReader::new(out).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                if line.contains("successfully started") {
                    ok = true;
                    break;
                }
                if started.elapsed() > Duration::from_secs(30) {
                    break;
                }
            }
            // Keep draining: Azurite dies of EPIPE if its stdout closes.
            std::thread::spawn(move || lines.for_each(drop));
        }
        if ok {
            return Azurite { child, port };
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("Azurite did not start (tried 3 ports)");
}

fn connection(port: u16, key: &str) -> ConnectionString {
    ConnectionString::parse(&format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};\
         TableEndpoint=http://127.0.0.1:{port}/devstoreaccount1;"
    ))
    .unwrap_or_else(|e| panic!("{e}"))
}

async fn store(az: &Azurite, table: &str) -> AzureTableStore {
    AzureTableStore::connect(connection(az.port, DEV_KEY), table)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"))
}

fn profile(events: u64) -> Profile {
    let mut p = Profile::new(jiff::Timestamp::UNIX_EPOCH);
    p.events = events;
    p
}

fn event(i: usize, principal: &str, targets: usize) -> cadet_core::CommandEvent {
    let ids: Vec<String> = (0..targets).map(|t| format!("i-{i:06x}{t:010x}")).collect();
    let text = serde_json::json!({
        "eventVersion": "1.09", "eventSource": "ssm.amazonaws.com", "eventName": "SendCommand",
        "eventTime": format!("2026-10-0{}T{:02}:{:02}:07Z", 1 + (i / 1440) % 9, (i / 60) % 24, i % 60),
        "eventID": format!("e-{principal}-{i}"), "awsRegion": "eu-west-1",
        "recipientAccountId": "111122223333",
        "sourceIPAddress": format!("198.51.{}.{}", i % 250, (i * 7) % 250),
        "userAgent": format!("aws-cli/2.{i}.0 Python/3.11"),
        "userIdentity": {"type": "AssumedRole", "arn": format!("arn:aws:sts::111122223333:assumed-role/{principal}/s"),
            "accountId": "111122223333",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": format!("arn:aws:iam::111122223333:role/{principal}")}}},
        "requestParameters": {"documentName": format!("Custom-Doc-{i}"), "instanceIds": ids}
    });
    cadet_core::normalize(&text.to_string())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not a command event"))
}

fn written(p: Put) -> Version {
    match p {
        Put::Written(v) => v,
        Put::Conflict => panic!("unexpected conflict"),
    }
}

#[tokio::test]
async fn insert_get_update_and_conflicts() {
    let az = start_azurite();
    let s = store(&az, "cadetcrud").await;
    // Creating an existing table is fine.
    AzureTableStore::connect(connection(az.port, DEV_KEY), "cadetcrud")
        .await
        .unwrap_or_else(|e| panic!("second connect: {e}"));

    // Keys with characters Table keys forbid (`/`, `#`, `?`, `\`) and quotes.
    let key = "aws|111122223333|arn:aws:iam::1:role/path/x#y?z\\w'q";
    assert!(s.get(key).await.unwrap_or_else(|e| panic!("{e}")).is_none());
    let v1 = written(
        s.put(key, profile(1), None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert!(!v1.0.is_empty(), "the ETag is the version");
    // Insert again: the entity exists.
    let again = s.put(key, profile(9), None).await;
    assert_eq!(again.unwrap_or_else(|e| panic!("{e}")), Put::Conflict);
    let got = s.get(key).await.unwrap_or_else(|e| panic!("{e}"));
    let got = got.unwrap_or_else(|| panic!("gone"));
    assert_eq!(got.profile.events, 1);
    assert_eq!(got.version, v1);
    // Update with the current ETag, then with the stale one.
    let v2 = written(
        s.put(key, profile(2), Some(&v1))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    assert_ne!(v1, v2);
    let stale = s.put(key, profile(3), Some(&v1)).await;
    assert_eq!(
        stale.unwrap_or_else(|e| panic!("{e}")),
        Put::Conflict,
        "stale ETag"
    );
    // Updating an entity that does not exist is a conflict too (re-read, then insert).
    let ghost = s
        .put("aws|1|nobody", profile(1), Some(&Version("W/\"x\"".into())))
        .await;
    assert_eq!(ghost.unwrap_or_else(|e| panic!("{e}")), Put::Conflict);
    // Keys that escape alike stay apart.
    written(
        s.put("aws|111122223333|a/b", profile(5), None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    written(
        s.put("aws|111122223333|a!2Fb", profile(6), None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let a = s
        .get("aws|111122223333|a/b")
        .await
        .ok()
        .flatten()
        .map(|s| s.profile.events);
    let b = s
        .get("aws|111122223333|a!2Fb")
        .await
        .ok()
        .flatten()
        .map(|s| s.profile.events);
    assert_eq!((a, b), (Some(5), Some(6)));
}

#[tokio::test]
async fn large_profiles_are_split_across_properties() {
    let az = start_azurite();
    let s = store(&az, "cadetlarge").await;
    let mut p = Profile::new(jiff::Timestamp::UNIX_EPOCH);
    for i in 0..400 {
        p.observe(&event(i, "BigRole", 20));
    }
    let json = serde_json::to_string(&p).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        json.len() > 70_000,
        "the test profile should need several 32K properties, it has {} bytes",
        json.len()
    );
    let key = "aws|111122223333|arn:aws:iam::111122223333:role/BigRole";
    written(
        s.put(key, p.clone(), None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let got = s.get(key).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        *got.unwrap_or_else(|| panic!("gone")).profile,
        p,
        "reassembled exactly"
    );
}

#[tokio::test]
async fn concurrent_updates_of_one_principal_all_land() {
    let az = start_azurite();
    let s = store(&az, "cadetrace").await;
    let policy = Policy::default();
    // Eight events of the same principal, processed at once: every conditional write that
    // loses the race re-reads and retries.
    let events: Vec<_> = (0..8).map(|i| event(i, "RaceRole", 1)).collect();
    let results = join_all(
        events
            .iter()
            .map(|e| cadet_core::process_async(&s, e, &policy)),
    )
    .await;
    for r in &results {
        assert!(matches!(r, Ok(Processed::Verdict(_))), "{r:?}");
    }
    let key = cadet_core::profile::profile_key(
        cadet_core::Provider::Aws,
        "111122223333",
        &events[0].principal.id,
    );
    let got = s.get(&key).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        got.unwrap_or_else(|| panic!("gone")).profile.events,
        8,
        "no update was lost"
    );
    // Redelivery of one of them is a duplicate (dedup through the stored profile).
    assert!(matches!(
        cadet_core::process_async(&s, &events[3], &policy).await,
        Ok(Processed::Duplicate)
    ));
}

#[tokio::test]
async fn blob_offsets_are_conditional_and_never_go_back() {
    let az = start_azurite();
    let s = store(&az, "offsets").await;
    let blob = "orgarchive/insights-activity-logs/resourceId=/SUBSCRIPTIONS/S/y=2026/m=10/d=11/h=02/m=00/PT1H.json";
    assert!(s
        .offset_get(blob)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_none());
    let v1 = written(
        s.offset_put(blob, 100, None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // A second insert (another instance that also read from 0) conflicts.
    assert_eq!(
        s.offset_put(blob, 100, None)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Put::Conflict
    );
    let (at, v) = s
        .offset_get(blob)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("stored"));
    assert_eq!((at, &v), (100, &v1));
    let _v2 = written(
        s.offset_put(blob, 250, Some(&v))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
    );
    // The stale ETag loses.
    assert_eq!(
        s.offset_put(blob, 180, Some(&v1))
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        Put::Conflict
    );
    // Advancing to an earlier offset keeps the later one; a later offset is written.
    assert_eq!(
        s.offset_advance(blob, 120)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        250
    );
    assert_eq!(
        s.offset_advance(blob, 400)
            .await
            .unwrap_or_else(|e| panic!("{e}")),
        400
    );
    assert_eq!(
        s.offset_get(blob)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|(o, _)| o),
        Some(400)
    );
    // Offsets live apart from profiles: no profile key collides with them.
    assert!(AsyncBaselineStore::get(&s, blob)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .is_none());
}

#[tokio::test]
async fn a_wrong_account_key_fails_without_leaking_it() {
    let az = start_azurite();
    let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let err = match AzureTableStore::connect(connection(az.port, wrong), "cadetauth").await {
        Ok(_) => panic!("a wrong key was accepted"),
        Err(e) => e,
    };
    assert!(
        matches!(err, AzureTableError::Service { status: 403, .. }),
        "{err:?}"
    );
    assert!(!err.to_string().contains(wrong) && !format!("{err:?}").contains(wrong));
}

/// Runs futures concurrently on one task.
async fn join_all<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pending: Vec<Option<_>> = futures.map(|f| Some(Box::pin(f))).collect();
    let mut out: Vec<Option<F::Output>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (slot, fut) in out.iter_mut().zip(pending.iter_mut()) {
            if let Some(f) = fut {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => {
                        *slot = Some(v);
                        *fut = None;
                    }
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// Counts the conditional writes that lost a race (each one is a re-read and retry).
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    conflicts: std::sync::atomic::AtomicUsize,
}

impl<S: AsyncBaselineStore + Sync> AsyncBaselineStore for Counting<S> {
    type Error = S::Error;
    async fn get(&self, key: &str) -> Result<Option<cadet_core::baseline::Stored>, S::Error> {
        self.inner.get(key).await
    }
    async fn put(
        &self,
        key: &str,
        profile: Profile,
        expected: Option<&Version>,
    ) -> Result<Put, S::Error> {
        let r = self.inner.put(key, profile, expected).await?;
        if r == Put::Conflict {
            self.conflicts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(r)
    }
    async fn get_record(
        &self,
        key: &str,
    ) -> Result<Option<cadet_core::baseline::StoredRecord>, S::Error> {
        self.inner.get_record(key).await
    }
    async fn put_record(
        &self,
        key: &str,
        text: &str,
        expires: jiff::Timestamp,
        expected: Option<&cadet_core::baseline::Version>,
    ) -> Result<cadet_core::baseline::Put, S::Error> {
        self.inner.put_record(key, text, expires, expected).await
    }
}

/// Load figure, not a timing assertion: 16 writers × 10 events of one principal at once.
/// Every event lands (a writer whose retries all lost resubmits it, as the platform's
/// redelivery would); the conflicts and resubmissions are printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_writers_on_one_principal_lose_nothing() {
    let az = start_azurite();
    let s = std::sync::Arc::new(Counting {
        inner: store(&az, "cadetcontention").await,
        conflicts: std::sync::atomic::AtomicUsize::new(0),
    });
    let policy = std::sync::Arc::new(Policy::default());
    let started = Instant::now();
    let mut writers = Vec::new();
    for w in 0..16u64 {
        let (s, policy) = (s.clone(), policy.clone());
        writers.push(tokio::spawn(async move {
            let mut resubmitted = 0;
            for i in 0..10u64 {
                let e = event((1_000 + w * 100 + i) as usize, "ContendedRole", 1);
                loop {
                    match cadet_core::process_async(&*s, &e, &policy).await {
                        Ok(_) => break,
                        Err(cadet_core::baseline::ProcessError::Contention(..)) => resubmitted += 1,
                        Err(other) => panic!("{other}"),
                    }
                }
            }
            resubmitted
        }));
    }
    let mut resubmitted = 0;
    for w in writers {
        resubmitted += w.await.unwrap_or_else(|e| panic!("{e}"));
    }
    let elapsed = started.elapsed();
    let key = cadet_core::profile::profile_key(
        cadet_core::Provider::Aws,
        "111122223333",
        &event(0, "ContendedRole", 1).principal.id,
    );
    let events = s
        .get(&key)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|p| p.profile.events);
    let conflicts = s.conflicts.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "azure table, 16 writers x 10 events on one principal: {} recorded, {conflicts} conflicting writes retried, {resubmitted} resubmissions after 8 lost races, {:.1} s",
        events.unwrap_or(0),
        elapsed.as_secs_f64()
    );
    assert_eq!(events, Some(160), "no update lost");
}
