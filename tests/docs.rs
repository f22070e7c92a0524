//! The README against the files it describes: the `make help` block lists every documented
//! Makefile target with its own description, and the quick start names every prerequisite that
//! `make test` does not install itself.

use std::path::PathBuf;

fn read(rel: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `(target, description)` for every `target: … ## description` line, as `make help` prints them.
fn makefile_targets() -> Vec<(String, String)> {
    read("Makefile")
        .lines()
        .filter_map(|l| {
            let (head, desc) = l.split_once(" ## ")?;
            let (target, _) = head.split_once(':')?;
            let ok = !target.is_empty()
                && target
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            ok.then(|| (target.to_string(), desc.trim().to_string()))
        })
        .collect()
}

/// The rows of the README's `$ make help` block.
fn readme_help_block() -> Vec<(String, String)> {
    let readme = read("README.md");
    let start = readme
        .find("$ make help\n")
        .unwrap_or_else(|| panic!("README.md has no `$ make help` block"));
    let block = &readme[start + "$ make help\n".len()..];
    let end = block.find("```").unwrap_or(block.len());
    block[..end]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let l = l.trim();
            let (t, d) = l.split_once(' ').unwrap_or((l, ""));
            (t.to_string(), d.trim().to_string())
        })
        .collect()
}

#[test]
fn readme_make_help_block_matches_the_makefile() {
    assert_eq!(
        readme_help_block(),
        makefile_targets(),
        "README.md's `$ make help` block differs from the Makefile's `## ` descriptions: paste \
         the output of `make help` into it"
    );
}

#[test]
fn quick_start_names_the_prerequisites_make_test_does_not_install() {
    let readme = read("README.md");
    let start = readme
        .find("## Quick start")
        .unwrap_or_else(|| panic!("no Quick start"));
    let end = readme[start..]
        .find("\n## CLI")
        .map_or(readme.len(), |e| start + e);
    let quick = &readme[start..end];
    // What `make test` expects to find rather than install (see the Makefile and
    // scripts/lint-infra.sh): rustup (the pinned toolchain and the nightly one for fuzzing),
    // terraform, python3 with venv, npm, and Chromium (installed through apt-get when absent).
    for needle in [
        "rustup",
        "nightly",
        "terraform",
        "python3",
        "npm",
        "chromium",
        ".tools",
    ] {
        assert!(
            quick.contains(needle),
            "the quick start does not mention `{needle}`, which `make test` relies on"
        );
    }
}

/// Every signal has a row in the README's signal tables with its default points, and a line in
/// the shipped policy file with the same weight; every action's base points are in its `[base]`.
#[test]
fn every_signal_is_documented_with_its_default_points() {
    let readme = read("README.md");
    let policy_file = read("policy/default.toml");
    let policy = cadet_core::Policy::default();
    let mut missing = Vec::new();
    for id in cadet_core::SignalId::ALL {
        if *id == cadet_core::SignalId::Action {
            continue;
        }
        let w = policy.weights.get(*id);
        let shown = if w < 0 {
            format!("\u{2212}{}", -w)
        } else {
            format!("+{w}")
        };
        let row = format!("| `{}` | {shown} |", id.as_str());
        if !readme.contains(&row) {
            missing.push(format!("README row {row}"));
        }
        let line = format!("{} = {w}", id.as_str());
        if !policy_file.lines().any(|l| l.starts_with(&line)) {
            missing.push(format!("policy/default.toml line {line}"));
        }
    }
    // The base points of every action that yields a verdict, in `[base]`.
    for action in cadet_core::Action::COMMANDS
        .into_iter()
        .chain([cadet_core::Action::AgentProcess])
    {
        let line = format!("{action} = {}", policy.base.get(action));
        if !policy_file.lines().any(|l| l.starts_with(&line)) {
            missing.push(format!("policy/default.toml [base] line {line}"));
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
