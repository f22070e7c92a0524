//! Markdown tables: one section per seed and the totals over all seeds.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::attacks::LIBRARY;
use crate::eval::{per_1000, KindEval, Report};
use crate::Kind;

/// One seed's section.
pub fn seed(r: &Report) -> String {
    let mut s = String::new();
    let ids: usize = r.identities.values().sum();
    let _ = writeln!(s, "### Seed {}\n", r.seed);
    let _ = writeln!(
        s,
        "{} records ({}), {} ignored by the normalizer, {} observed without verdict, {} duplicates, {} rejected",
        r.records,
        r.per_cloud
            .iter()
            .map(|(c, n)| format!("{} {n}", c.as_str()))
            .collect::<Vec<_>>()
            .join(", "),
        r.ignored.values().sum::<u64>(),
        r.observed,
        r.duplicates,
        r.rejected.len()
    );
    let _ = writeln!(
        s,
        "{ids} identities: {}",
        r.identities
            .iter()
            .map(|(k, n)| format!("{} {n}", k.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "evaluation weeks: precision {:.3} ({} attack alerts, {} false alerts in {} routine calls, {:.2} per 1,000); recall {}/{}\n",
        r.eval.precision(),
        r.eval.attack_alerts,
        r.eval.routine_alerts,
        r.eval.routine_calls,
        r.eval.false_per_1000(),
        r.attacks.iter().filter(|a| a.detected).count(),
        r.attacks.len()
    );
    let _ = writeln!(
        s,
        "| attack | cloud | detected | scores of expected steps |"
    );
    let _ = writeln!(s, "|---|---|---|---|");
    for a in &r.attacks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            a.name,
            a.cloud.as_str(),
            if a.detected { "yes" } else { "no" },
            a.scores()
        );
    }
    let _ = writeln!(s);
    kinds_table(&mut s, &r.kinds);
    s
}

fn kinds_table(s: &mut String, kinds: &BTreeMap<Kind, KindEval>) {
    let _ = writeln!(
        s,
        "| identity kind | identities | routine calls | false alerts | per 1,000 | max score | signals in false alerts |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|");
    for k in Kind::ALL {
        let e = kinds.get(&k).cloned().unwrap_or_default();
        let mut sig: Vec<(&String, &u64)> = e.signals.iter().collect();
        sig.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let sig = sig
            .iter()
            .take(4)
            .map(|(id, n)| format!("{id} {n}"))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2} | {} | {} |",
            k.as_str(),
            e.identities,
            e.calls,
            e.alerts,
            per_1000(e.alerts, e.calls),
            e.max,
            sig
        );
    }
    let _ = writeln!(s);
}

/// Totals over several seeds.
pub fn total(reports: &[Report]) -> String {
    let mut s = String::new();
    let n = reports.len();
    let _ = writeln!(s, "## Total over {n} seeds\n");
    let _ = writeln!(
        s,
        "| seed | records | identities | routine calls (eval) | false alerts | per 1,000 | precision | recall |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for r in reports {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.2} | {:.3} | {}/{} |",
            r.seed,
            r.records,
            r.identities.values().sum::<usize>(),
            r.eval.routine_calls,
            r.eval.routine_alerts,
            r.eval.false_per_1000(),
            r.eval.precision(),
            r.attacks.iter().filter(|a| a.detected).count(),
            r.attacks.len()
        );
    }
    let calls: u64 = reports.iter().map(|r| r.eval.routine_calls).sum();
    let fa: u64 = reports.iter().map(|r| r.eval.routine_alerts).sum();
    let aa: u64 = reports.iter().map(|r| r.eval.attack_alerts).sum();
    let records: usize = reports.iter().map(|r| r.records).sum();
    let detected: usize = reports
        .iter()
        .map(|r| r.attacks.iter().filter(|a| a.detected).count())
        .sum();
    let injected: usize = reports.iter().map(|r| r.attacks.len()).sum();
    let _ = writeln!(
        s,
        "| all | {records} | | {calls} | {fa} | {:.2} | {:.3} | {detected}/{injected} |\n",
        per_1000(fa, calls),
        if fa + aa == 0 {
            1.0
        } else {
            aa as f64 / (fa + aa) as f64
        }
    );
    let _ = writeln!(
        s,
        "| attack kind | cloud | expected | detected | scores of expected steps per seed |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|");
    for k in LIBRARY {
        let runs: Vec<_> = reports
            .iter()
            .filter_map(|r| r.attacks.iter().find(|a| a.name == k.name))
            .collect();
        let det = runs.iter().filter(|a| a.detected).count();
        let scores = runs
            .iter()
            .map(|a| format!("{}{}", a.scores(), if a.detected { "" } else { "✗" }))
            .collect::<Vec<_>>()
            .join(" · ");
        let _ = writeln!(
            s,
            "| {} | {} | {} | {det}/{} | {scores} |",
            k.name,
            k.cloud.as_str(),
            k.expect,
            runs.len()
        );
    }
    let _ = writeln!(s);
    let mut kinds: BTreeMap<Kind, KindEval> = BTreeMap::new();
    for r in reports {
        for (k, e) in &r.kinds {
            let m = kinds.entry(*k).or_default();
            m.identities += e.identities;
            m.calls += e.calls;
            m.alerts += e.alerts;
            m.max = m.max.max(e.max);
            for (id, c) in &e.signals {
                *m.signals.entry(id.clone()).or_default() += c;
            }
        }
    }
    let _ = writeln!(
        s,
        "Per identity kind, evaluation weeks, all seeds (identities summed over seeds):\n"
    );
    kinds_table(&mut s, &kinds);
    let mut ignored: BTreeMap<&str, u64> = BTreeMap::new();
    for r in reports {
        for (op, c) in &r.ignored {
            *ignored.entry(op).or_default() += c;
        }
    }
    let _ = writeln!(
        s,
        "Records the normalizer ignored (all seeds): {}\n",
        ignored
            .iter()
            .map(|(op, c)| format!("{op} {c}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    s
}
