//! The findings ledger's append and read over the memory store: chains across chunks, counts
//! a redelivery once, skips an unreadable chunk without losing the entry, and survives a stale
//! head kept by a writer that lost a race.

use cadet_core::baseline::AsyncBaselineStore;
use cadet_core::ledger::{append, key, read, shard, Delivery, Entry, CHUNK_ENTRIES};
use cadet_core::Severity;
use cadet_state::MemoryStore;

fn entry(id: &str) -> Entry {
    Entry {
        id: id.into(),
        at: 1_790_208_000 + 3600,
        severity: Severity::High,
        score: 65,
        points: 65,
        provider: "aws".into(),
        account: "111122223333".into(),
        principal: "arn:aws:iam::111122223333:user/alice".into(),
        name: Some("alice".into()),
        kind: "iam_user".into(),
        operation: "ssm:SendCommand".into(),
        document: Some("AWS-RunShellScript".into()),
        session: None,
        app: None,
        ip: Some("198.51.100.7".into()),
        signals: vec![("action".into(), 20), ("script_document".into(), 45)],
        delivery: Delivery::Paged,
    }
}

fn day() -> jiff::civil::Date {
    jiff::civil::date(2026, 9, 24)
}

/// Finding ids that all fall in one shard.
fn same_shard(n: usize) -> Vec<String> {
    let want = shard("f-0");
    (0..)
        .map(|i| format!("f-{i}"))
        .filter(|id| shard(id) == want)
        .take(n)
        .collect()
}

#[tokio::test]
async fn appends_chain_dedupe_and_survive_damage_and_races() {
    let store = MemoryStore::new();
    let ids = same_shard(CHUNK_ENTRIES * 2 + 3);
    let mut head = None;
    for id in &ids {
        let (added, h) = append(&store, &entry(id), head.take())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(added);
        head = Some(h);
    }
    // Three chunks of the one shard.
    let s = shard(&ids[0]);
    for n in 0..3 {
        assert!(store
            .get_record(&key("2026-09-24", s, n))
            .await
            .ok()
            .flatten()
            .is_some());
    }
    // A redelivery, with the head and without it (walking the chain): nothing added.
    let (added, _) = append(&store, &entry(&ids[ids.len() - 1]), head.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!added);
    let (added, _) = append(&store, &entry(&ids[0]), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!added, "found on the way along the chain");
    let r = read(&store, day(), day())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.entries.len(), ids.len());

    // A writer with a stale head (another wrote the chunk since) reads again and loses nothing.
    let stale = head.clone();
    let more = same_shard(CHUNK_ENTRIES * 2 + 5);
    let (a, b) = (&more[more.len() - 2], &more[more.len() - 1]);
    append(&store, &entry(a), head.take())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    append(&store, &entry(b), stale)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let r = read(&store, day(), day())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.entries.len(), ids.len() + 2);

    // Damage the first chunk: the report names it, the next append goes to a later chunk.
    let k = key("2026-09-24", s, 0);
    let v = store
        .get_record(&k)
        .await
        .ok()
        .flatten()
        .map(|r| r.version)
        .unwrap_or_else(|| panic!("chunk 0"));
    let expires = jiff::Timestamp::UNIX_EPOCH;
    store
        .put_record(&k, "{not json", expires, Some(&v))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let late = same_shard(CHUNK_ENTRIES * 2 + 6);
    let (added, _) = append(&store, &entry(&late[late.len() - 1]), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(added);
    let r = read(&store, day(), day())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.unreadable.len(), 1, "{:?}", r.unreadable);
    assert_eq!(r.unreadable[0].0, k);
    assert_eq!(r.entries.len(), ids.len() + 3 - CHUNK_ENTRIES);
}
