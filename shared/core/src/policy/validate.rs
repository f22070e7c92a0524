//! Parsing and validation: TOML text to [`PolicyFile`], then to the compiled [`Policy`], every
//! error naming its key and line.

use std::ops::Range;

use ipnet::IpNet;
use jiff::tz::TimeZone;

use super::window::compile_window;
use super::{AllowRule, NameRule, Pattern, Policy, PolicyError, PolicyFile, SourceRule};

impl Policy {
    /// Parses and validates a policy from TOML text.
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            let msg = e.message().trim().to_string();
            match line {
                Some(l) => PolicyError::Parse(format!("line {l}: {msg}")),
                None => PolicyError::Parse(msg),
            }
        })?;
        Policy::from_file(file, text)
    }

    /// Validates a parsed policy file. `text` is the source, for line numbers (may be empty).
    pub fn from_file(file: PolicyFile, text: &str) -> Result<Policy, PolicyError> {
        let invalid = |span: Range<usize>, key: &str, message: String| PolicyError::Invalid {
            line: line_of(text, span.start),
            key: key.to_string(),
            message,
        };
        let tz_name = file.timezone.get_ref().clone();
        let timezone = TimeZone::get(&tz_name).map_err(|e| {
            invalid(
                file.timezone.span(),
                "timezone",
                format!("unknown time zone {tz_name:?} ({e})"),
            )
        })?;
        let h = &file.health;
        let bad = |key: &str, message: String| PolicyError::Invalid {
            line: 0,
            key: format!("health.{key}"),
            message,
        };
        if !(h.min_silence_hours.is_finite() && h.min_silence_hours >= 0.5) {
            return Err(bad(
                "min_silence_hours",
                format!("must be at least 0.5, got {}", h.min_silence_hours),
            ));
        }
        if !(h.silence_factor.is_finite() && h.silence_factor >= 1.0) {
            return Err(bad(
                "silence_factor",
                format!("must be at least 1.0, got {}", h.silence_factor),
            ));
        }
        if !(h.rejected_share > 0.0 && h.rejected_share <= 1.0) {
            return Err(bad(
                "rejected_share",
                format!(
                    "must be above 0.0 and at most 1.0, got {}",
                    h.rejected_share
                ),
            ));
        }
        if !(5..=1440).contains(&h.shape_window_minutes) {
            return Err(bad(
                "shape_window_minutes",
                format!("must be between 5 and 1440, got {}", h.shape_window_minutes),
            ));
        }
        if h.min_rejected == 0 {
            return Err(bad("min_rejected", "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&file.learning_weight) {
            return Err(PolicyError::Invalid {
                line: 0,
                key: "learning_weight".into(),
                message: format!("must be between 0.0 and 1.0, got {}", file.learning_weight),
            });
        }
        if !(0.0..=1.0).contains(&file.familiar_weight) {
            return Err(PolicyError::Invalid {
                line: 0,
                key: "familiar_weight".into(),
                message: format!("must be between 0.0 and 1.0, got {}", file.familiar_weight),
            });
        }
        if file.thresholds.many_targets == 0 {
            return Err(PolicyError::Invalid {
                line: 0,
                key: "thresholds.many_targets".into(),
                message: "must be at least 1".into(),
            });
        }
        let th = &file.thresholds;
        for (key, value, min, max) in [
            ("cadence_min_repeats", th.cadence_min_repeats, 2, 64),
            (
                "cadence_tolerance_minutes",
                th.cadence_tolerance_minutes,
                1,
                720,
            ),
            (
                "habit_lookback_days",
                th.habit_lookback_days,
                1,
                crate::profile::ACTIVITY_DAYS,
            ),
            ("habit_min_days", th.habit_min_days, 1, 366),
            ("habit_tolerance_hours", th.habit_tolerance_hours, 0, 11),
            ("rhythm_margin_hours", th.rhythm_margin_hours, 0, 11),
            ("novelty_burst_count", th.novelty_burst_count, 2, 64),
            ("novelty_burst_minutes", th.novelty_burst_minutes, 1, 1440),
        ] {
            if !(min..=max).contains(&value) {
                return Err(PolicyError::Invalid {
                    line: text.find(key).map_or(0, |o| line_of(text, o)),
                    key: format!("thresholds.{key}"),
                    message: format!("must be between {min} and {max}, got {value}"),
                });
            }
        }
        let suspicious_names = file
            .documents
            .suspicious_names
            .iter()
            .map(|f| crate::signals::name_key(f))
            .filter(|f| !f.is_empty())
            .collect();
        let business_hours = compile_window(&file.business_hours, "business_hours", text)?;
        let rules = |rules: &[AllowRule], key: &str| -> Result<Vec<NameRule>, PolicyError> {
            rules
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if r.pattern.trim().is_empty() {
                        return Err(PolicyError::Invalid {
                            line: 0,
                            key: format!("{key}[{i}].match"),
                            message: "must not be empty".into(),
                        });
                    }
                    Ok(NameRule {
                        pattern: Pattern::new(r.pattern.trim()),
                        reason: r.reason.clone(),
                        windows: r
                            .windows
                            .iter()
                            .enumerate()
                            .map(|(j, w)| {
                                compile_window(w, &format!("{key}[{i}].windows[{j}]"), text)
                            })
                            .collect::<Result<_, _>>()?,
                    })
                })
                .collect()
        };
        let allow_principals = rules(&file.allow.principals, "allow.principals")?;
        let allow_documents = rules(&file.allow.documents, "allow.documents")?;
        let allow_sources = file
            .allow
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let raw = s.cidr.get_ref().trim();
                let net = raw
                    .parse::<IpNet>()
                    .or_else(|_| raw.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        invalid(
                            s.cidr.span(),
                            &format!("allow.sources[{i}].cidr"),
                            format!("{raw:?} is not a CIDR or IP address"),
                        )
                    })?;
                Ok(SourceRule {
                    net,
                    reason: s.reason.clone(),
                    windows: s
                        .windows
                        .iter()
                        .enumerate()
                        .map(|(j, w)| {
                            compile_window(w, &format!("allow.sources[{i}].windows[{j}]"), text)
                        })
                        .collect::<Result<_, _>>()?,
                })
            })
            .collect::<Result<Vec<_>, PolicyError>>()?;
        file.response
            .validate()
            .map_err(|(key, message)| PolicyError::Invalid {
                line: text
                    .find("[response]")
                    .map(|at| line_of(text, at))
                    .unwrap_or(0),
                key,
                message,
            })?;
        let pats = |v: &[String]| v.iter().map(|s| Pattern::new(s)).collect::<Vec<_>>();
        Ok(Policy {
            alert_severity: file.alert_severity,
            timezone_name: tz_name,
            timezone,
            business_hours,
            learning_period_days: file.learning_period_days,
            learning_weight: file.learning_weight,
            familiar_weight: file.familiar_weight,
            weights: file.weights,
            base: file.base,
            thresholds: file.thresholds,
            script_documents: pats(&file.documents.script),
            routine_documents: pats(&file.documents.routine),
            routine_extensions: pats(&file.documents.routine_extensions),
            aws_owned_prefixes: file.documents.aws_owned_prefixes,
            suspicious_names,
            trusted: file.trusted,
            allow_principals,
            allow_documents,
            allow_sources,
            response: file.response,
            own_resources: pats(&file.tamper.own_resources),
            shadow: file.shadow,
            health: file.health,
        })
    }
}

pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_policy_is_the_default() {
        let p = Policy::from_toml("").map_err(|e| e.to_string());
        assert!(p.is_ok(), "{p:?}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_a_line() {
        let err = Policy::from_toml("alert_severity = \"high\"\n\n[weights]\noffensive_tol = 3\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("offensive_tol"), "{err}");
    }

    #[test]
    fn invalid_values_name_key_and_line() {
        let err = Policy::from_toml("timezone = \"Mars/Olympus\"\n")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref().map(|e| e.starts_with("line 1: `timezone`")),
            Some(true),
            "{err:?}"
        );
        let err = Policy::from_toml("[[allow.sources]]\ncidr = \"10.0.0/8\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("line 2: `allow.sources[0].cidr`"), "{err}");
        let err = Policy::from_toml("[business_hours]\nstart = \"25:00\"\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("business_hours.start"), "{err}");
    }
}

#[cfg(test)]
mod default_file_tests {
    use super::*;

    #[test]
    fn the_shipped_default_policy_file_is_the_built_in_default() {
        let file = Policy::from_toml(crate::DEFAULT_POLICY).unwrap_or_else(|e| panic!("{e}"));
        let built_in = Policy::default();
        assert_eq!(file.weights, built_in.weights);
        assert_eq!(
            format!("{:?}", file.thresholds),
            format!("{:?}", built_in.thresholds)
        );
        assert_eq!(file.suspicious_names, built_in.suspicious_names);
        assert_eq!(file.aws_owned_prefixes, built_in.aws_owned_prefixes);
        assert_eq!(file.learning_period_days, built_in.learning_period_days);
        assert_eq!(format!("{:?}", file.base), format!("{:?}", built_in.base));
        assert_eq!(
            format!("{:?}", file.own_resources),
            format!("{:?}", built_in.own_resources)
        );
        assert_eq!(file.shadow, built_in.shadow);
        assert_eq!(file.health, built_in.health);
    }

    #[test]
    fn cadence_and_habit_thresholds_are_bounded() {
        let err = Policy::from_toml("[thresholds]\nhabit_lookback_days = 90\n")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("habit_lookback_days") && err.contains("35"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");
    }
}
