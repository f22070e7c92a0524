//! On-host signals: processes started under a cloud agent (shell and script hosts, the seed
//! query's command-line rule, the agents' own wrapper and background work).

use super::command::padded_lower;
use super::{SignalId, Signals};
use crate::model::{Action, CommandEvent};
use crate::policy::Policy;

#[cfg(doc)]
use super::{command_text, COMMAND_PATTERNS};

/// Shell and script hosts (image file names, lowercase, without `.exe`): the seed query's four
/// plus their siblings on Windows and Linux.
pub const SHELL_HOSTS: &[&str] = &[
    "powershell",
    "pwsh",
    "powershell_ise",
    "cmd",
    "wscript",
    "cscript",
    "mshta",
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "python",
    "python3",
    "perl",
];

/// The seed query's command-line rule (`/(-enc|-bypass|-hidden)/i`, substrings), per signal.
/// Applied to shell hosts under a cloud agent, on top of [`COMMAND_PATTERNS`].
pub const SEED_PATTERNS: &[(SignalId, &[&str])] = &[
    (SignalId::SeedEncodedShell, &["-enc", " -ec "]),
    (
        SignalId::SeedBypassShell,
        &[
            "-bypass",
            "-hidden",
            "-executionpolicy bypass",
            "-ep bypass",
            "-exec bypass",
            "-windowstyle hidden",
            "-w hidden",
        ],
    ),
];

/// The agents' own background work: image names (lowercase, without `.exe`) and fragments of
/// the SSM agent's orchestration paths of its routine plugins. The real examples are Azure guest
/// agent log collection (`CollectGuestLogs.exe` → `cmd`, `conhost`, `logman`, `wevtutil`) in
/// the OTRF datasets, and the SSM agent's inventory and patch plugin folders.
pub const ROUTINE_AGENT_WORK: &[&str] = &[
    "collectguestlogs",
    "ipconfig",
    "route",
    "logman",
    "wevtutil",
    "netsh",
    "conhost",
    "waappagent",
    "windowsazureguestagent",
    "windowsazuretelemetryservice",
    "/awssoftwareinventory/",
    "/softwareinventory/",
    "/patchwindows/",
    "/patchlinux/",
    "/runpatchbaseline/",
    "/awsrunpatchbaseline/",
    "/configurepackage/",
    "/updatessmagent/",
];

/// On-host signals: shell hosts under an agent, the seed's `-enc` / `-bypass` / `-hidden`
/// rule, the agent's own wrapper and background work. The command line itself is scored by
/// [`command_text`] (the normalizer puts it in `command_text`).
pub fn agent_process(event: &CommandEvent, policy: &Policy, out: &mut Signals) {
    let Some(p) = event
        .process
        .as_ref()
        .filter(|_| event.action == Action::AgentProcess)
    else {
        return;
    };
    let agent = p.agent.map(|a| a.as_str()).unwrap_or("cloud agent");
    let base = image_base(&p.name);
    let shell = SHELL_HOSTS.contains(&base.as_str());
    if p.agent_wrapper {
        out.push(
            policy,
            SignalId::AgentWrapper,
            format!(
                "{} is the {agent}'s own wrapper around the script it was sent; what runs inside it is scored",
                p.name
            ),
        );
    } else if shell {
        out.push(
            policy,
            SignalId::AgentShell,
            format!("{} started under the {agent}", p.name),
        );
        let lower = padded_lower(p.command_line.as_deref().unwrap_or(""));
        // Nine patterns: searched one by one (a one-pass table only pays for long lists).
        for (id, patterns) in SEED_PATTERNS {
            if let Some(hit) = patterns.iter().find(|pat| lower.contains(*pat)) {
                out.push(
                    policy,
                    *id,
                    format!(
                        "{} under the {agent} with {:?} (the seed query's rule)",
                        p.name,
                        hit.trim()
                    ),
                );
            }
        }
    }
    let parent = p.parent_name.as_deref().map(image_base).unwrap_or_default();
    let paths = [
        p.path.as_deref(),
        p.working_directory.as_deref(),
        p.parent_command_line.as_deref(),
    ];
    // The paths lowered once, when a path fragment is first tried (not once per fragment).
    let mut lowered: Option<Vec<String>> = None;
    let routine = ROUTINE_AGENT_WORK.iter().find(|w| {
        if w.starts_with('/') {
            lowered
                .get_or_insert_with(|| paths.iter().flatten().map(|t| slashed(t)).collect())
                .iter()
                .any(|t| t.contains(*w))
        } else {
            // The process itself is agent housekeeping, or it was started by housekeeping
            // (a shell only under the log collector, which runs `cmd` for its own steps).
            **w == base || (**w == parent && (!shell || parent == "collectguestlogs"))
        }
    });
    if let Some(w) = routine {
        out.push(
            policy,
            SignalId::RoutineAgentWork,
            format!("the agent's own background work ({})", w.trim_matches('/')),
        );
    }
}

/// A path lowercased (ASCII) with `\\` turned into `/`, in one pass. Both keep byte offsets, so
/// positions found in the result index the original too.
pub(crate) fn slashed(s: &str) -> String {
    let bytes: Vec<u8> = s
        .bytes()
        .map(|b| match b {
            b'\\' => b'/',
            b => b.to_ascii_lowercase(),
        })
        .collect();
    // Swapping ASCII bytes for ASCII bytes keeps UTF-8 valid: the fallback never runs.
    String::from_utf8(bytes).unwrap_or_else(|_| s.to_ascii_lowercase().replace('\\', "/"))
}

/// An image path or name reduced to its lowercase file name without `.exe`
/// (`C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe` → `powershell`).
pub fn image_base(image: &str) -> String {
    let name = image
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(image)
        .trim_matches('"');
    // `.exe` cut before lowercasing (in any case: lowercasing is ASCII-only), so the name is
    // copied once.
    let cut = name.len().saturating_sub(4);
    match name.as_bytes().get(cut..) {
        Some(ext) if ext.eq_ignore_ascii_case(b".exe") => name[..cut].to_ascii_lowercase(),
        _ => name.to_ascii_lowercase(),
    }
}
