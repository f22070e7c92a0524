//! Recurring weekly windows (business hours, change windows): [`WindowSpec`] as written, the
//! compiled [`Window`], and the parsing of days and `HH:MM` times.

use std::ops::Range;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::validate::line_of;
use super::PolicyError;

/// A recurring weekly window, optionally bounded by absolute dates.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Days of the week (`mon` … `sun`); default every day.
    #[serde(default)]
    pub days: Option<Vec<Spanned<String>>>,
    /// Start time `HH:MM` in the policy's time zone (inclusive); default `00:00`.
    #[serde(default)]
    pub start: Option<Spanned<String>>,
    /// End time `HH:MM` (exclusive; `24:00` is end of day); default `24:00`.
    #[serde(default)]
    pub end: Option<Spanned<String>>,
    /// Not before this instant (RFC 3339), e.g. the start of a change ticket.
    #[serde(default)]
    pub from: Option<Spanned<String>>,
    /// Not after this instant (RFC 3339).
    #[serde(default)]
    pub until: Option<Spanned<String>>,
}

impl Default for WindowSpec {
    fn default() -> Self {
        let sp = |s: &str| Spanned::new(0..0, s.to_string());
        WindowSpec {
            days: Some(
                ["mon", "tue", "wed", "thu", "fri"]
                    .iter()
                    .map(|d| sp(d))
                    .collect(),
            ),
            start: Some(sp("07:00")),
            end: Some(sp("19:00")),
            from: None,
            until: None,
        }
    }
}

/// A compiled recurring window.
#[derive(Debug, Clone)]
pub struct Window {
    pub(super) days: [bool; 7],
    pub(super) start_min: u32,
    pub(super) end_min: u32,
    pub(super) from: Option<Timestamp>,
    pub(super) until: Option<Timestamp>,
}

impl Window {
    /// Whether the window includes a weekday (0 = Monday … 6 = Sunday).
    pub fn includes_weekday(&self, monday_zero: usize) -> bool {
        self.days.get(monday_zero).copied().unwrap_or(false)
    }

    /// Whether the hour starting at `hour_of_day` (local) on a weekday (0 = Monday) falls
    /// inside the recurring part of the window (its `from`/`until` bounds aside).
    pub fn includes_hour(&self, monday_zero: usize, hour_of_day: u32) -> bool {
        if !self.includes_weekday(monday_zero) {
            return false;
        }
        let minute = hour_of_day * 60;
        if self.start_min <= self.end_min {
            minute >= self.start_min && minute < self.end_min
        } else {
            minute >= self.start_min || minute < self.end_min
        }
    }

    /// Whether `t` (in zone `tz`) falls inside the window.
    pub fn contains(&self, t: Timestamp, tz: &TimeZone) -> bool {
        if self.from.is_some_and(|f| t < f) || self.until.is_some_and(|u| t >= u) {
            return false;
        }
        let z = t.to_zoned(tz.clone());
        let day = z.weekday().to_monday_zero_offset() as usize;
        let minute = z.hour() as u32 * 60 + z.minute() as u32;
        if !self.days[day] {
            return false;
        }
        if self.start_min <= self.end_min {
            minute >= self.start_min && minute < self.end_min
        } else {
            // Overnight window, e.g. 22:00–04:00.
            minute >= self.start_min || minute < self.end_min
        }
    }
}

pub(super) fn compile_window(w: &WindowSpec, key: &str, text: &str) -> Result<Window, PolicyError> {
    let invalid = |span: Range<usize>, sub: &str, message: String| PolicyError::Invalid {
        line: line_of(text, span.start),
        key: format!("{key}.{sub}"),
        message,
    };
    let mut days = [true; 7];
    if let Some(list) = &w.days {
        days = [false; 7];
        for d in list {
            let day = parse_weekday(d.get_ref()).ok_or_else(|| {
                invalid(
                    d.span(),
                    "days",
                    format!("{:?} is not a day (mon … sun)", d.get_ref()),
                )
            })?;
            days[day.to_monday_zero_offset() as usize] = true;
        }
    }
    let minutes =
        |v: &Option<Spanned<String>>, sub: &str, default: u32| -> Result<u32, PolicyError> {
            match v {
                None => Ok(default),
                Some(s) => parse_hhmm(s.get_ref()).ok_or_else(|| {
                    invalid(s.span(), sub, format!("{:?} is not HH:MM", s.get_ref()))
                }),
            }
        };
    let start_min = minutes(&w.start, "start", 0)?;
    let end_min = minutes(&w.end, "end", 1440)?;
    let instant =
        |v: &Option<Spanned<String>>, sub: &str| -> Result<Option<Timestamp>, PolicyError> {
            match v {
                None => Ok(None),
                Some(s) => s.get_ref().parse::<Timestamp>().map(Some).map_err(|e| {
                    invalid(
                        s.span(),
                        sub,
                        format!("{:?} is not an RFC 3339 instant ({e})", s.get_ref()),
                    )
                }),
            }
        };
    Ok(Window {
        days,
        start_min,
        end_min,
        from: instant(&w.from, "from")?,
        until: instant(&w.until, "until")?,
    })
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_ascii_lowercase().get(..3)? {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        _ => return None,
    })
}

fn parse_hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_respect_days_hours_overnight_and_bounds() {
        let tz = TimeZone::UTC;
        let w = compile_window(&WindowSpec::default(), "w", "").ok();
        let w = w.as_ref();
        let at = |s: &str| s.parse::<Timestamp>().ok();
        // Tuesday 10:00 inside, Saturday 10:00 and Tuesday 19:00 outside.
        let tue10 = at("2026-10-06T10:00:00Z");
        let sat10 = at("2026-10-03T10:00:00Z");
        let tue19 = at("2026-10-06T19:00:00Z");
        for (t, want) in [(tue10, true), (sat10, false), (tue19, false)] {
            assert_eq!(w.zip(t).map(|(w, t)| w.contains(t, &tz)), Some(want));
        }
        let night = WindowSpec {
            days: None,
            start: Some(Spanned::new(0..0, "22:00".into())),
            end: Some(Spanned::new(0..0, "04:00".into())),
            from: None,
            until: Some(Spanned::new(0..0, "2026-10-05T00:00:00Z".into())),
        };
        let night = compile_window(&night, "n", "").ok();
        let sat02 = at("2026-10-03T02:00:00Z");
        assert_eq!(
            night.as_ref().zip(sat02).map(|(w, t)| w.contains(t, &tz)),
            Some(true)
        );
        let later02 = at("2026-10-07T02:00:00Z");
        assert_eq!(
            night.as_ref().zip(later02).map(|(w, t)| w.contains(t, &tz)),
            Some(false)
        );
    }
}
