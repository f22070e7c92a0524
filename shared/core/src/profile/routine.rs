//! Recurring routines: a principal's repeated fingerprints ([`Routine`], [`routine_key`]) and
//! the cadence ([`Period`]) found in their occurrences.

use serde::{Deserialize, Serialize};

use super::values::truncate;
use super::{client_of, hash64, network_of, Profile, CAP_ROUTINES, CAP_ROUTINE_TIMES};
use crate::model::{Action, CommandEvent};

/// One recurring thing a principal does: the same action and document against the same
/// targets from the same network and client ([`routine_key`]), with when it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Routine {
    /// [`routine_key`] of the fingerprint.
    pub key: u64,
    /// What it is, for reasons: `AWS-RunShellScript to tag:Role=web`.
    pub label: String,
    /// Occurrences, epoch seconds, ascending (last `CAP_ROUTINE_TIMES` (16), within
    /// `ROUTINE_DAYS`).
    pub times: Vec<i64>,
}

/// A regular cadence found in a routine's occurrences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every hour.
    Hourly,
    /// Every day (or every business day).
    Daily,
    /// Every week.
    Weekly,
}

impl Period {
    fn seconds(self) -> i64 {
        match self {
            Period::Hourly => 3600,
            Period::Daily => 86_400,
            Period::Weekly => 7 * 86_400,
        }
    }
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Period::Hourly => "hours",
            Period::Daily => "days",
            Period::Weekly => "weeks",
        }
    }
}

impl Profile {
    /// The recurring routine `e` continues, if its fingerprint has shown a cadence: at least
    /// `min_repeats` earlier occurrences at whole periods before `e` (hourly, daily or weekly,
    /// within `tolerance_minutes`, hourly within five minutes), in the last `2 × min_repeats`
    /// periods. Returns the routine, the cadence, how many periods matched and how many
    /// periods back the evidence reaches.
    pub fn cadence(
        &self,
        e: &CommandEvent,
        min_repeats: u32,
        tolerance_minutes: u32,
    ) -> Option<(&Routine, Period, u32, u32)> {
        let key = routine_key(e)?;
        let r = self.routines.iter().find(|r| r.key == key)?;
        let t = e.event_time.as_second();
        let window = 2 * i64::from(min_repeats.max(1));
        for period in [Period::Hourly, Period::Daily, Period::Weekly] {
            let p = period.seconds();
            let tol = (i64::from(tolerance_minutes) * 60).min(p / 12);
            let mut slots: u128 = 0;
            for &o in &r.times {
                let d = t - o;
                if d <= 0 || d > window * p + tol {
                    continue;
                }
                let k = (d + p / 2) / p;
                if (1..=window).contains(&k) && (d - k * p).abs() <= tol {
                    slots |= 1u128 << (k - 1);
                }
            }
            let matched = slots.count_ones();
            if matched >= min_repeats {
                let span = 128 - slots.leading_zeros();
                return Some((r, period, matched, span));
            }
        }
        None
    }
    pub(super) fn remember_routine(&mut self, e: &CommandEvent) {
        let Some(key) = routine_key(e) else {
            return;
        };
        let t = e.event_time.as_second();
        if let Some(r) = self.routines.iter_mut().find(|r| r.key == key) {
            let i = r.times.partition_point(|&x| x <= t);
            r.times.insert(i, t);
            if r.times.len() > CAP_ROUTINE_TIMES {
                r.times.remove(0);
            }
            return;
        }
        if self.routines.len() >= CAP_ROUTINES {
            // Evict the routine seen least recently.
            if let Some((i, _)) = self
                .routines
                .iter()
                .enumerate()
                .min_by_key(|(_, r)| r.times.last().copied().unwrap_or(i64::MIN))
            {
                self.routines.swap_remove(i);
            }
        }
        self.routines.push(Routine {
            key,
            label: truncate(routine_label(e)),
            times: vec![t],
        });
    }
}

/// The fingerprint of a repeatable action: action, document, targets (selector or the sorted
/// ids), source network and client. `None` for context events.
pub fn routine_key(e: &CommandEvent) -> Option<u64> {
    if e.action == Action::Context {
        return None;
    }
    // FNV-1a over the parts (case-folded by `hash64`), each followed by a separator; the
    // target ids as a sorted set of their hashes.
    let mix = |h: u64, part: &str| {
        let mut h = h;
        for b in part.bytes().chain(std::iter::once(0x1f)) {
            h ^= u64::from(b.to_ascii_lowercase());
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    let mut h = mix(0xcbf2_9ce4_8422_2325, e.action.as_str());
    let doc = e.document.as_ref().map(|d| d.name.as_str()).unwrap_or("");
    h = mix(h, doc.rsplit('/').next().unwrap_or(doc));
    match &e.targets.selector {
        Some(sel) => h = mix(h, sel),
        None => {
            let mut ids: Vec<u64> = e.targets.ids.iter().map(|s| hash64(s)).collect();
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                h = (h ^ id).wrapping_mul(0x0100_0000_01b3);
            }
            h = mix(h, "");
        }
    }
    h = mix(
        h,
        network_of(e.source.ip.as_deref()).as_deref().unwrap_or(""),
    );
    h = mix(h, client_of(e).as_deref().unwrap_or(""));
    Some(h)
}

/// `AWS-RunShellScript to tag:Role=web` / `run_command to vm-web-01 +2`.
fn routine_label(e: &CommandEvent) -> String {
    let what = e
        .document
        .as_ref()
        .map(|d| d.name.rsplit('/').next().unwrap_or(&d.name).to_string())
        .unwrap_or_else(|| e.action.as_str().to_string());
    let to = match (&e.targets.selector, e.targets.ids.as_slice()) {
        (Some(sel), _) => format!(" to {sel}"),
        (None, []) => String::new(),
        (None, [one]) => format!(" to {}", short_target(one)),
        (None, [first, rest @ ..]) => format!(" to {} +{}", short_target(first), rest.len()),
    };
    format!("{what}{to}")
}

fn short_target(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}
