//! The simulator's properties, and regression guards on cadet's detection quality over it.
//!
//! The guards are set at what the current model measures (figures in the comments), not at
//! the goal: the goal is at most 1 false alert per 1,000 routine calls for every
//! identity kind after warm-up, and every attack kind detected at its expected severity.
//! Tighten the guards as the model improves; `make scenario` prints the full ten-seed report.

use std::collections::{BTreeMap, BTreeSet};

use cadet_core::{normalize, Policy};
use cadet_scenario::attacks::LIBRARY;
use cadet_scenario::{evaluate, generate, Cloud, Config, Kind, Label, Scenario};

fn scenario(seed: u64) -> Scenario {
    generate(&Config {
        seed,
        ..Config::default()
    })
}

#[test]
fn the_organisation_is_large_varied_and_on_every_cloud() {
    let s = scenario(3);
    let by_kind = s.by_kind();
    assert!(
        s.identities.len() >= 300,
        "{} identities",
        s.identities.len()
    );
    assert!(by_kind.len() >= 10, "{} kinds", by_kind.len());
    assert_eq!(by_kind.len(), Kind::ALL.len(), "{by_kind:?}");
    let clouds: BTreeSet<Cloud> = by_kind.keys().map(|k| k.cloud()).collect();
    assert_eq!(clouds.len(), 3, "{clouds:?}");
    let zones: BTreeSet<_> = s.identities.values().filter_map(|i| i.zone).collect();
    assert!(zones.len() >= 3, "{zones:?}");
    assert!(
        (40_000..=120_000).contains(&s.records.len()),
        "{} records",
        s.records.len()
    );
    assert_eq!(s.days, 56);
    assert_eq!(s.warm_days, 14);
    // Joiners and leavers.
    let joiners = s
        .identities
        .values()
        .filter(|i| i.from > 0 && i.from < s.days)
        .count();
    let leavers = s.identities.values().filter(|i| i.to < s.days).count();
    assert!(
        joiners >= 8 && leavers >= 8,
        "{joiners} joiners, {leavers} leavers"
    );
    // Machines are replaced over the weeks.
    assert!(
        s.replaced_machines >= 50,
        "{} replaced",
        s.replaced_machines
    );
}

#[test]
fn every_kind_is_active_in_the_evaluation_weeks_and_attacks_only_there() {
    let s = scenario(4);
    let mut eval: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut attacks: BTreeMap<&str, Cloud> = BTreeMap::new();
    for r in &s.records {
        match &r.label {
            Label::Routine { kind, .. } if !r.warmup => *eval.entry(*kind).or_default() += 1,
            Label::Routine { .. } => {}
            Label::Attack { name, .. } => {
                assert!(!r.warmup, "attack {name} in the warm-up");
                attacks.insert(name, r.cloud);
            }
        }
    }
    for k in Kind::ALL {
        assert!(eval.get(&k).copied().unwrap_or(0) > 0, "{k:?} silent");
    }
    assert!(LIBRARY.len() >= 20);
    assert_eq!(attacks.len(), LIBRARY.len(), "injected {attacks:?}");
    assert!(attacks.values().any(|c| *c == Cloud::Aws));
    assert!(attacks.values().any(|c| *c == Cloud::Azure));
    assert!(s.records.windows(2).all(|w| w[0].time <= w[1].time));
}

#[test]
fn a_seed_gives_the_same_organisation_and_another_seed_another() {
    let a = scenario(7);
    let b = scenario(7);
    assert_eq!(a.records.len(), b.records.len());
    assert!(a
        .records
        .iter()
        .zip(&b.records)
        .all(|(x, y)| x.json == y.json));
    let c = scenario(8);
    assert_ne!(a.records.len(), c.records.len());
}

#[test]
fn every_record_normalizes_without_error() {
    let s = scenario(5);
    for r in &s.records {
        if let Err(e) = normalize(&r.json) {
            panic!("{e}: {}", r.json);
        }
    }
}

/// Seed 1 over the full eight weeks with the current model.
#[test]
fn quality_guards_at_todays_measure() {
    let s = scenario(1);
    let r = evaluate(&s, 1, &Policy::default());
    println!("{}", cadet_scenario::report::seed(&r));
    assert!(r.rejected.is_empty(), "{:?}", r.rejected);
    assert_eq!(r.attacks.len(), LIBRARY.len());
    // Measured: 29 of 34 attack kinds detected at their expected severity (seed 1; 10 seeds:
    // 272 of 340); the goal is all of them.
    let detected = r.attacks.iter().filter(|a| a.detected).count();
    assert!(detected >= GUARD_DETECTED, "{detected} detected");
    // Measured: 1.46 false alerts per 1,000 routine calls of the evaluation weeks (seed 1).
    assert!(
        r.eval.false_per_1000() <= GUARD_TOTAL_PER_1000,
        "{}",
        r.eval.false_per_1000()
    );
    // Per kind: measured (per 1,000) in the table below; the goal is <= 1 for each.
    for (kind, limit) in GUARD_PER_KIND {
        let e = r.kinds.get(kind).cloned().unwrap_or_default();
        let per = cadet_scenario::eval::per_1000(e.alerts, e.calls);
        assert!(per <= *limit, "{kind:?}: {per:.2} per 1,000 > {limit}");
    }
}

/// Attack kinds detected at their expected severity on seed 1: 29 measured.
const GUARD_DETECTED: usize = 28;
/// False alerts per 1,000 routine calls, all kinds, seed 1: 1.46 measured.
const GUARD_TOTAL_PER_1000: f64 = 2.0;
/// Per identity kind, seed 1, evaluation weeks: the measured figure (comment) and the guard,
/// a little above it. The goal is <= 1 for every kind.
const GUARD_PER_KIND: &[(Kind, f64)] = &[
    (Kind::SsoAdmin, 7.0),           // 5.50
    (Kind::SsoDeveloper, 3.0),       // 1.87
    (Kind::OnCall, 16.0),            // 13.02
    (Kind::IamUser, 6.0),            // 4.44
    (Kind::AwsNewHire, 10.0),        // 0.00 (103 calls: one alert is 9.7)
    (Kind::CiOidc, 1.0),             // 0.52
    (Kind::CiSelfHosted, 1.0),       // 0.00
    (Kind::ConfigMgmt, 1.0),         // 0.00
    (Kind::InstanceProfile, 1.0),    // 0.00
    (Kind::Lambda, 1.5),             // 0.79
    (Kind::ServiceInvoked, 1.0),     // 0.00
    (Kind::Iac, 1.0),                // 0.00
    (Kind::AzureAdmin, 5.0),         // 3.71
    (Kind::AzureNewHire, 7.0),       // 0.00 (150 calls: one alert is 6.7)
    (Kind::DevOpsSp, 2.5),           // 1.81
    (Kind::ManagedIdentity, 1.0),    // 0.00
    (Kind::AutomationSchedule, 1.0), // 0.00
    (Kind::AzurePolicy, 1.0),        // 0.00
];
