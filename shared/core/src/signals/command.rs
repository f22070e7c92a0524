//! Command-text signals: the attack patterns ([`COMMAND_PATTERNS`]) matched in command text,
//! in one pass over the text.

use std::sync::OnceLock;

use super::{SignalId, Signals};
use crate::model::CommandEvent;
use crate::policy::Policy;

/// Command-text patterns per signal (matched case-insensitively as substrings). Data, not code:
/// extend a list to teach cadet a new technique.
pub const COMMAND_PATTERNS: &[(SignalId, &[&str])] = &[
    (
        SignalId::EncodedCommand,
        &[
            "-encodedcommand",
            " -enc ",
            " -ec ",
            "frombase64string",
            "base64 -d",
            "base64 --decode",
            "certutil -decode",
        ],
    ),
    (
        SignalId::ExecutionPolicyBypass,
        &[
            "-executionpolicy bypass",
            "-ep bypass",
            "-exec bypass",
            "-windowstyle hidden",
            "-w hidden",
            "-noprofile -noninteractive",
        ],
    ),
    (
        SignalId::DownloadCradle,
        &[
            "| sh",
            "|sh",
            "| bash",
            "|bash",
            "net.webclient",
            "downloadstring",
            "downloadfile",
            "invoke-webrequest",
            "iwr ",
            "invoke-restmethod",
            "certutil -urlcache",
            "bitsadmin /transfer",
            "start-bitstransfer",
            "wget -o-",
            "curl -s http",
            "curl http",
        ],
    ),
    (
        SignalId::ReverseShell,
        &[
            "/dev/tcp/",
            "/dev/udp/",
            "nc -e",
            "ncat -e",
            "nc.traditional -e",
            "bash -i >&",
            "sh -i >&",
            "pty.spawn",
            "socket.socket(",
            "socat exec:",
            "mkfifo /tmp",
            "system.net.sockets.tcpclient",
        ],
    ),
    (
        SignalId::CredentialAccess,
        &[
            "/etc/shadow",
            "169.254.169.254",
            "security-credentials",
            "mimikatz",
            "sekurlsa",
            "lsass",
            "procdump",
            "comsvcs.dll",
            "minidump",
            ".aws/credentials",
            "reg save hklm\\sam",
            "reg save hklm\\security",
            "ntds.dit",
        ],
    ),
    (
        SignalId::DefenseEvasion,
        &[
            "history -c",
            "unset histfile",
            "histfile=/dev/null",
            ".bash_history",
            "stop auditd",
            "auditctl -d",
            "auditctl -e 0",
            "stop amazon-ssm-agent",
            "disable amazon-ssm-agent",
            "set-mppreference",
            "add-mppreference -exclusion",
            "wevtutil cl",
            "clear-eventlog",
            "setenforce 0",
        ],
    ),
    (
        SignalId::Persistence,
        &[
            "crontab",
            "/etc/cron",
            "authorized_keys",
            "useradd",
            "adduser",
            "net user /add",
            "new-localuser",
            "schtasks /create",
            "register-scheduledtask",
            "systemctl enable",
            ".bashrc",
            "/etc/rc.local",
            "currentversion\\run",
        ],
    ),
];

/// Per-signal pattern lists ([`COMMAND_PATTERNS`]) matched in one pass over a text with an
/// Aho-Corasick automaton (the `aho-corasick` crate, built from the lists on first use: the lists
/// stay the one declaration), instead of one substring search per pattern — the command
/// patterns are ~80 and the command line of an encoded PowerShell is hundreds of bytes.
#[derive(Debug)]
struct PatternSet {
    automaton: aho_corasick::AhoCorasick,
    /// Pattern id → (index of its signal in the lists, index in that signal's list).
    owner: Vec<(usize, usize)>,
}

impl PatternSet {
    /// `None` only if the automaton cannot be built (it can for any list of short literals);
    /// the lists are then searched pattern by pattern.
    fn new(lists: &[(SignalId, &[&'static str])]) -> Option<PatternSet> {
        let owner: Vec<(usize, usize)> = lists
            .iter()
            .enumerate()
            .flat_map(|(s, (_, l))| (0..l.len()).map(move |k| (s, k)))
            .collect();
        let patterns = lists.iter().flat_map(|(_, l)| l.iter().copied());
        // Standard semantics, so every occurrence of every pattern is reported (overlapping).
        let automaton = aho_corasick::AhoCorasick::new(patterns).ok()?;
        Some(PatternSet { automaton, owner })
    }
}

/// For each signal of `lists`, in order, the first of its patterns (in list order) that `text`
/// contains: what `patterns.iter().find(|p| text.contains(p))` gives, in one pass when `set`
/// was built from the same `lists`.
fn first_hits(
    lists: &[(SignalId, &[&'static str])],
    set: &OnceLock<Option<PatternSet>>,
    text: &str,
    mut hit: impl FnMut(SignalId, &'static str),
) {
    let Some(set) = set.get_or_init(|| PatternSet::new(lists)) else {
        for (id, patterns) in lists {
            if let Some(p) = patterns.iter().find(|p| text.contains(*p)) {
                hit(*id, p);
            }
        }
        return;
    };
    // Per signal, the lowest list index found so far.
    let mut first: Vec<Option<usize>> = vec![None; lists.len()];
    for m in set.automaton.find_overlapping_iter(text) {
        let (signal, k) = set.owner[m.pattern().as_usize()];
        let slot = &mut first[signal];
        if slot.is_none_or(|have| k < have) {
            *slot = Some(k);
        }
    }
    for ((id, patterns), k) in lists.iter().zip(first) {
        if let Some(k) = k {
            hit(*id, patterns[k]);
        }
    }
}

static COMMAND_SET: OnceLock<Option<PatternSet>> = OnceLock::new();

/// Signals from command text (SSM command parameters fetched by enrichment, ECS Exec commands).
pub fn command_text(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    if let Some(err) = event.enrichment_error.as_deref() {
        out.push(
            policy,
            SignalId::EnrichmentUnavailable,
            format!("command text unavailable ({err}); scored without it"),
        );
    }
    let Some(text) = event.command_text.as_deref() else {
        return;
    };
    let lower = padded_lower(text);
    first_hits(COMMAND_PATTERNS, &COMMAND_SET, &lower, |id, hit| {
        out.push(
            policy,
            id,
            format!("command text contains {:?}", hit.trim()),
        );
    });
}

/// ` text ` lowercased (ASCII): the command-line patterns are matched against it, the padding
/// letting a pattern such as `" -enc "` match at either end. One allocation.
pub(super) fn padded_lower(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    out.push_str(text);
    out.push(' ');
    out.make_ascii_lowercase();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signals::SEED_PATTERNS;

    #[test]
    fn one_pass_pattern_matching_finds_what_contains_finds() {
        for lists in [COMMAND_PATTERNS, SEED_PATTERNS] {
            let set = OnceLock::new();
            let built = set.get_or_init(|| PatternSet::new(lists)).is_some();
            assert!(built, "the automaton is built from the lists");
            let all: Vec<&str> = lists.iter().flat_map(|(_, l)| l.iter().copied()).collect();
            let mut texts: Vec<String> = vec![
                String::new(),
                " ".into(),
                " powershell.exe -nop -w hidden -enc sqbfafgaiaa= ".into(),
            ];
            for (i, p) in all.iter().enumerate() {
                texts.push(format!(" {p} "));
                texts.push(p.to_string());
                texts.push(format!("x{}{p}", all[(i + 7) % all.len()]));
                texts.push(p[..p.len() - 1].to_string());
            }
            for text in &texts {
                let mut fast = Vec::new();
                first_hits(lists, &set, text, |id, hit| fast.push((id, hit)));
                let slow: Vec<(SignalId, &str)> = lists
                    .iter()
                    .filter_map(|(id, l)| l.iter().find(|p| text.contains(*p)).map(|p| (*id, *p)))
                    .collect();
                assert_eq!(fast, slow, "{text:?}");
            }
        }
    }
}
