//! Time-of-day habits for [`super::stateful`]: `usual_hours`, `unusual_hour` and the
//! principal's own off-hours rate, read from its hours of activity.

use crate::model::CommandEvent;
use crate::policy::Policy;
use crate::profile::Profile;
use crate::signals::{SignalId, Signals};

/// The shortest arc of the 24-hour clock that holds every hour in `hours` (sorted, 0–23):
/// its first hour and its length in hours (0 for a single hour).
pub(crate) fn working_span(hours: &[i64]) -> Option<(i64, i64)> {
    let n = hours.len();
    if n == 0 {
        return None;
    }
    // The arc starts after the widest gap between consecutive hours, going round the clock.
    let (after, _) = (0..n)
        .map(|i| (i, (hours[(i + 1) % n] - hours[i]).rem_euclid(24)))
        .max_by_key(|&(i, gap)| (if n == 1 { 24 } else { gap }, std::cmp::Reverse(i)))?;
    let lo = hours[(after + 1) % n];
    let hi = hours[after];
    Some((lo, (hi - lo).rem_euclid(24)))
}

/// Time-of-day habits: `usual_hours` when the principal routinely acts at this time on this
/// kind of day (cancelling `off_hours`), `unusual_hour` when a principal with a daily rhythm
/// acts hours away from anything it has done.
///
/// Activity is kept per UTC hour; it is read in the policy's time zone at the event's offset
/// (one conversion per event), so a daylight-saving change inside the lookback shifts old
/// hours by one, which `habit_tolerance_hours` absorbs.
pub(super) fn habits(
    e: &CommandEvent,
    p: &Profile,
    team: Option<&Profile>,
    policy: &Policy,
    out: &mut Signals,
) {
    let th = &policy.thresholds;
    let offset_h = i64::from(policy.timezone.to_offset(e.event_time).seconds()) / 3600;
    let now_h = e.event_time.as_second().div_euclid(3600) + offset_h;
    let now_day = now_h.div_euclid(24);
    let now_hod = now_h.rem_euclid(24);
    // 1970-01-01 was a Thursday (Monday-zero 3).
    let business = |day: i64| {
        policy
            .business_hours
            .includes_weekday((day + 3).rem_euclid(7) as usize)
    };
    let today_business = business(now_day);
    let circ = |a: i64, b: i64| {
        let d = (a - b).rem_euclid(24);
        d.min(24 - d)
    };
    let first_day = now_day - i64::from(th.habit_lookback_days);
    let mut same_time_days = 0u32;
    let mut last_same = i64::MIN;
    // Days at this time of day whatever their kind, and days of today's kind at any time.
    let mut any_kind_days = 0u32;
    let mut last_any = i64::MIN;
    let mut kind_days = 0u32;
    let mut last_kind = i64::MIN;
    // Distinct days with activity in each local hour of day (each stored hour is one day's).
    let mut days_at = [0u32; 24];
    // Active hours in the lookback, and those outside the policy's business hours.
    let mut hours_seen = 0u32;
    let mut hours_off = 0u32;
    let mut active_days = 0u32;
    let mut last_active = i64::MIN;
    let tolerance = i64::from(th.habit_tolerance_hours);
    // Per hour of day: within the tolerance of now. Per day: its weekday and kind, computed
    // when the (sorted) hours enter a new day — the loop runs over every active hour of the
    // lookback, on every call.
    let near_now: [bool; 24] = std::array::from_fn(|h| circ(h as i64, now_hod) <= tolerance);
    let (mut weekday, mut same_kind) = (0usize, false);
    for (d, hod) in local_hours(p, (first_day, now_day), offset_h) {
        hours_seen += 1;
        if d != last_active {
            active_days += 1;
            last_active = d;
            weekday = (d + 3).rem_euclid(7) as usize;
            same_kind = business(d) == today_business;
        }
        hours_off += u32::from(!policy.business_hours.includes_hour(weekday, hod as u32));
        days_at[hod as usize] += 1;
        if d != last_kind && same_kind {
            kind_days += 1;
            last_kind = d;
        }
        if near_now[hod as usize] {
            if d != last_any {
                any_kind_days += 1;
                last_any = d;
            }
            if d != last_same && same_kind {
                same_time_days += 1;
                last_same = d;
            }
        }
    }
    let nearest = (0..24i64)
        .filter(|&h| days_at[h as usize] > 0)
        .map(|h| circ(h, now_hod))
        .min()
        .unwrap_or(i64::MAX);
    let kind = if today_business {
        "business days"
    } else {
        "non-business days"
    };
    // Off-hours with a rate: the policy's clock is everyone's prior, but a principal that
    // already acts outside it (another region's day, on-call, a pipeline or job that runs
    // around the clock) is surprised by it only as often as it does not.
    if hours_seen >= th.habit_min_days.saturating_mul(2)
        && out
            .as_slice()
            .iter()
            .any(|s| s.id == SignalId::OffHours && s.points > 0)
    {
        let factor = crate::owner::surprise(hours_off, hours_seen);
        if factor < 1.0 {
            out.scale(
                SignalId::OffHours,
                factor,
                &format!(
                    "{hours_off} of its {hours_seen} active hours in the last {} days were outside them: weight ×{factor:.2}",
                    th.habit_lookback_days
                ),
            );
        }
    }
    if let Some(off) = out
        .as_slice()
        .iter()
        .find(|s| s.id == SignalId::OffHours)
        .map(|s| s.points)
    {
        // Usual on this kind of day; or inside the principal's working hours — the hours of
        // day between the first and last it has acted in on at least two days, over twice
        // the evidence — so a weekend at a person's working hours is not their off-hours.
        let supported: Vec<i64> = (0..24).filter(|&h| days_at[h as usize] >= 2).collect();
        // The shortest span of the clock holding every supported hour (it may cross midnight:
        // a New York evening is the small hours in UTC), if it is a working day's length.
        let window = working_span(&supported).filter(|&(_, len)| len <= 14);
        let usual = if same_time_days >= th.habit_min_days {
            Some(format!(
                "active within {} h of it on {same_time_days} of the last {} days ({kind})",
                th.habit_tolerance_hours, th.habit_lookback_days
            ))
        } else if any_kind_days >= th.habit_min_days && kind_days > 0 {
            // Its own clock, not the policy's: a principal that already works on this kind of
            // day (weekend on-call, another region's week) at its usual time of day.
            Some(format!(
                "active within {} h of it on {any_kind_days} of the last {} days, and already active on {kind_days} {kind}",
                th.habit_tolerance_hours, th.habit_lookback_days
            ))
        } else if let Some((lo, len)) = window.filter(|&(lo, len)| {
            active_days >= th.habit_min_days.saturating_mul(2)
                && (now_hod - (lo - tolerance)).rem_euclid(24) <= len + 2 * tolerance
        }) {
            Some(format!(
                "inside its working hours {lo:02}:00–{:02}:59 (within {} h), active on {active_days} of the last {} days",
                (lo + len).rem_euclid(24),
                th.habit_tolerance_hours,
                th.habit_lookback_days
            ))
        } else {
            // Its team's clock: a time its team keeps (an on-call rotation's nights, a team
            // spread over time zones) is no surprise from one of its members, though the
            // policy's business hours say otherwise.
            // As for its own clock: this time on days of this kind, or this time on any days
            // for a member who already works on days of this kind, as its team does (a
            // rotation's weeknight pages make its weekend nights no surprise to whoever has
            // held the weekend pager).
            team.and_then(|t| {
                let span = (first_day, now_day);
                let days = days_near(t, span, now_hod, offset_h, tolerance, |d| {
                    business(d) == today_business
                });
                if days >= th.habit_min_days {
                    return Some(format!(
                        "its team (the same permission set or role) acted within {} h of it on {days} {kind} of the last {}",
                        th.habit_tolerance_hours, th.habit_lookback_days
                    ));
                }
                let any = days_near(t, span, now_hod, offset_h, tolerance, |_| true);
                let of_kind = days_near(t, span, now_hod, offset_h, 12, |d| {
                    business(d) == today_business
                });
                (any >= th.habit_min_days && of_kind > 0 && kind_days > 0).then(|| {
                    format!(
                        "its team (the same permission set or role) acted within {} h of it on {any} of the last {} days, and on {of_kind} {kind}, as this principal did on {kind_days}",
                        th.habit_tolerance_hours, th.habit_lookback_days
                    )
                })
            })
        };
        if let (true, Some(evidence)) = (off > 0, usual) {
            let w = policy.weights.get(SignalId::UsualHours);
            let points = if w < 0 { w.max(-off) } else { w };
            out.push_points(
                SignalId::UsualHours,
                points,
                format!(
                    "{:02}:00 {} is a usual time for this principal: {evidence}",
                    now_hod, policy.timezone_name,
                ),
            );
        }
    }
    // An hour its team keeps (a rotation's nights) is no departure from a member's rhythm,
    // though the member's own history has not shown it yet.
    let margin = i64::from(th.rhythm_margin_hours);
    if active_days >= th.rhythm_min_days && nearest > margin {
        let team_days = team.map_or(0, |t| {
            days_near(t, (first_day, now_day), now_hod, offset_h, margin, |_| true)
        });
        if team_days >= th.habit_min_days {
            return;
        }
        out.push(
            policy,
            SignalId::UnusualHour,
            format!(
                "{:02}:00 {} is {} h from any time this principal acted on its {active_days} active days of the last {} days",
                now_hod,
                policy.timezone_name,
                if nearest == i64::MAX { 12 } else { nearest },
                th.habit_lookback_days
            ),
        );
        // Weighed by how often it keeps new hours: a rotation's pages fall at any time. The
        // rate is smoothed toward its kind's prior, as for network owners, so a short history
        // neither condemns nor excuses.
        let (unusual_before, eligible) = moved_hours(
            local_hours(p, (first_day, now_day), offset_h),
            i64::from(th.rhythm_margin_hours),
            th.habit_min_days,
        );
        if eligible >= th.habit_min_days.saturating_mul(2) {
            let human = e
                .principal
                .kind
                .is_some_and(crate::model::PrincipalKind::is_human);
            let factor = crate::owner::owner_surprise(unusual_before, eligible, human).min(1.0);
            if factor < 1.0 {
                out.scale(
                    SignalId::UnusualHour,
                    factor,
                    &format!(
                        "{unusual_before} of its {eligible} earlier active hours were as far from any it had kept before: weight ×{factor:.2}"
                    ),
                );
            }
        }
    }
}

/// The active hours of `p` on local days in `[first_day, now_day)` (local time is UTC +
/// `offset_h`), oldest first, as (local day, local hour of day).
fn local_hours(
    p: &Profile,
    (first_day, now_day): (i64, i64),
    offset_h: i64,
) -> impl Iterator<Item = (i64, i64)> + '_ {
    // The list is sorted: start at the lookback's first hour, stop at today.
    let first_hour = (first_day * 24 - offset_h).clamp(0, i64::from(u32::MAX)) as u32;
    let start = p.active_hours.partition_point(|&h| h < first_hour);
    p.active_hours[start..]
        .iter()
        .map(move |&h| {
            let local = i64::from(h) + offset_h;
            (local.div_euclid(24), local.rem_euclid(24))
        })
        .take_while(move |&(d, _)| d < now_day)
        .filter(move |&(d, _)| d >= first_day)
}

/// How often a principal's hours moved: of its active `hours` ([`local_hours`]) after its
/// first `min_days` active days, how many were more than `margin` hours from every hour of day
/// it had acted in before — and how many there were. Read only when `unusual_hour` fires.
fn moved_hours(hours: impl Iterator<Item = (i64, i64)>, margin: i64, min_days: u32) -> (u32, u32) {
    // The hours of day within `margin` of each hour of day, as a 24-bit mask.
    let near: [u32; 24] = std::array::from_fn(|h| {
        (-margin.min(12)..=margin.min(12)).fold(0u32, |m, d| m | 1 << (h as i64 + d).rem_euclid(24))
    });
    let (mut seen, mut moved, mut eligible, mut days, mut last) =
        (0u32, 0u32, 0u32, 0u32, i64::MIN);
    for (d, hod) in hours {
        if d != last {
            days += 1;
            last = d;
        }
        let hod = hod as usize;
        if days > min_days {
            eligible += 1;
            moved += u32::from(seen & near[hod] == 0);
        }
        seen |= 1 << hod;
    }
    (moved, eligible)
}

/// Distinct local days in `[first_day, now_day)` of the kind `same_kind` accepts (business or
/// not) on which `p` acted within `tolerance` hours of local hour `hod` (local time is UTC +
/// `offset_h`).
fn days_near(
    p: &Profile,
    (first_day, now_day): (i64, i64),
    hod: i64,
    offset_h: i64,
    tolerance: i64,
    same_kind: impl Fn(i64) -> bool,
) -> u32 {
    let mut days = 0;
    let mut last = i64::MIN;
    for (d, at) in local_hours(p, (first_day, now_day), offset_h) {
        let gap = (at - hod).rem_euclid(24);
        if d != last && gap.min(24 - gap) <= tolerance && same_kind(d) {
            days += 1;
            last = d;
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_spans_go_round_the_clock() {
        assert_eq!(working_span(&[]), None);
        assert_eq!(working_span(&[9]), Some((9, 0)));
        assert_eq!(working_span(&[9, 10, 11, 17]), Some((9, 8)));
        // New York's working day in UTC: 13:00 to 00:59.
        assert_eq!(working_span(&[0, 13, 14, 18, 22, 23]), Some((13, 11)));
    }
}
