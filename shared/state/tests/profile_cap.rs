//! The persisted profile stays under a hard size cap, however busy and however varied the
//! principal: 100,000 events, each from a new network, with a new client, document and target.

use cadet_core::model::{
    Action, CommandEvent, Document, Outcome, Principal, Provider, Source, Targets,
};
use cadet_core::profile::{Profile, MAX_PROFILE_BYTES};
use jiff::{SignedDuration, Timestamp};

fn event(i: u64) -> CommandEvent {
    let long = "x".repeat(400);
    CommandEvent {
        provider: Provider::Aws,
        event_id: format!("e-{i}"),
        correlation_id: None,
        event_time: Timestamp::UNIX_EPOCH
            + SignedDuration::from_secs(1_800_000_000 + i as i64 * 37),
        account: "111122223333".into(),
        tenant: None,
        region: Some("eu-west-1".into()),
        operation: "ssm:SendCommand".into(),
        action: if i.is_multiple_of(7) {
            Action::Session
        } else {
            Action::RunCommand
        },
        principal: Principal {
            id: "arn:aws:iam::111122223333:role/Busy".into(),
            ..Principal::default()
        },
        source: Source {
            ip: Some(format!(
                "10.{}.{}.{}",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            )),
            user_agent: Some(format!("client-{i}{long}/1.0")),
            ..Source::default()
        },
        targets: Targets {
            ids: (0..8).map(|k| format!("i-{i:08x}{k:08x}{long}")).collect(),
            selector: None,
            count: Some(8),
        },
        document: Some(Document {
            name: format!("Doc-{i}-{long}"),
            kind: None,
            version: None,
        }),
        outcome: Outcome::Success,
        error_code: None,
        max_errors: None,
        phase: None,
        command_id: None,
        shared_with: Vec::new(),
        command_text: None,
        enrichment_error: None,
        deleted_before_read: false,
        host: None,
        process: None,
        related: Vec::new(),
        tamper: None,
    }
}

#[test]
fn a_profile_of_100k_varied_events_stays_under_the_cap() {
    let mut p = Profile::new(Timestamp::UNIX_EPOCH);
    let mut largest = 0;
    for i in 0..100_000 {
        p.observe(&event(i));
        if i % 5_000 == 4_999 {
            let bytes = postcard::to_stdvec(&p)
                .unwrap_or_else(|e| panic!("{e}"))
                .len();
            largest = largest.max(bytes);
            assert!(
                bytes <= p.encoded_size_bound(),
                "bound {} < real {bytes}",
                p.encoded_size_bound()
            );
        }
    }
    let bytes = postcard::to_stdvec(&p)
        .unwrap_or_else(|e| panic!("{e}"))
        .len();
    let json = serde_json::to_vec(&p)
        .unwrap_or_else(|e| panic!("{e}"))
        .len();
    println!("100k events: postcard {bytes} bytes (largest {largest}), JSON {json} bytes, cap {MAX_PROFILE_BYTES}");
    assert!(
        largest <= MAX_PROFILE_BYTES,
        "{largest} > {MAX_PROFILE_BYTES}"
    );
    // DynamoDB items are at most 400 KB; Azure Table entities 1 MiB (JSON, split into 32K properties).
    assert!(largest < 400_000);
    assert!(json < 1_000_000, "JSON {json}");
    assert_eq!(p.events, 100_000);
}

#[test]
fn the_cap_sheds_oldest_entries_when_exceeded() {
    let mut p = Profile::new(Timestamp::UNIX_EPOCH);
    for i in 0..2_000 {
        p.observe(&event(i));
    }
    // Simulate a profile written by a build with larger lists: far beyond the cap.
    let extra = p.targets.clone();
    for _ in 0..20 {
        p.targets.extend(extra.iter().cloned());
    }
    assert!(p.encoded_size_bound() > MAX_PROFILE_BYTES);
    p.enforce_size_cap();
    assert!(p.encoded_size_bound() <= MAX_PROFILE_BYTES);
    assert!(!p.targets.is_empty(), "shed, not wiped");
}
