//! `cadet-scenario`: simulate the organisation, score it with cadet, print the quality report
//! as Markdown.
//!
//! ```text
//! cadet-scenario [--seed N | --seeds A..=B] [--warmup-weeks N] [--weeks N] [--policy FILE]
//!                [--dump FILE] [--alerts]
//! ```
//!
//! Without `--seed` it runs seeds 1 to 10 (in parallel) and prints each seed's section and
//! the totals. `--dump FILE` writes the raw records of the (first) seed as NDJSON, one
//! delivery a line, so the same weeks can be fed to `cadet detect`. `--alerts` lists the steps of every missed attack and every
//! false alert of the evaluation weeks. `CADET_TRACE=<part of an identity or attack name>`
//! prints every verdict of those identities (and every step of those attacks) with each
//! signal's points and reason on stderr.

use std::io::Write;

use anyhow::{bail, Context};
use cadet_core::Policy;
use cadet_scenario::{evaluate, generate, report, Config, Report};

fn main() -> anyhow::Result<()> {
    let mut cfg = Config::default();
    let mut seeds: Vec<u64> = (1..=10).collect();
    let mut policy = Policy::default();
    let mut dump = None;
    let mut alerts = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seed" => seeds = vec![value("--seed")?.parse().context("--seed")?],
            "--seeds" => {
                let v = value("--seeds")?;
                let (a, b) = v.split_once("..=").context("--seeds A..=B")?;
                seeds = (a.parse().context("--seeds")?..=b.parse().context("--seeds")?).collect();
            }
            "--weeks" => cfg.weeks = value("--weeks")?.parse().context("--weeks")?,
            "--warmup-weeks" => {
                cfg.warmup_weeks = value("--warmup-weeks")?.parse().context("--warmup-weeks")?
            }
            "--policy" => {
                let path = value("--policy")?;
                let text =
                    std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
                policy = Policy::from_toml(&text).with_context(|| path.clone())?;
            }
            "--dump" => dump = Some(value("--dump")?),
            "--alerts" => alerts = true,
            "-h" | "--help" => {
                println!("cadet-scenario [--seed N | --seeds A..=B] [--warmup-weeks N] [--weeks N] [--policy FILE] [--dump FILE] [--alerts]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if let Some(path) = &dump {
        let scenario = generate(&Config {
            seed: seeds[0],
            ..cfg
        });
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {path}"))?,
        );
        for r in &scenario.records {
            writeln!(f, "{}", r.json)?;
        }
        f.flush()?;
    }
    let reports = run(&seeds, cfg, &policy);
    let mut out = std::io::stdout().lock();
    for r in &reports {
        write!(out, "{}", report::seed(r))?;
        if alerts {
            for a in r.false_alerts.iter().filter(|a| !a.warmup) {
                writeln!(
                    out,
                    "- {} {} `{}` {} {} {}",
                    a.time,
                    a.kind.as_str(),
                    a.identity,
                    a.operation,
                    a.score,
                    a.signals
                )?;
            }
            writeln!(out)?;
            for a in r.attacks.iter().filter(|a| !a.detected) {
                for st in &a.steps {
                    writeln!(
                        out,
                        "- missed {} {} {} (expect {}) {}",
                        a.name,
                        st.operation,
                        st.score.map_or("-".to_string(), |x| x.to_string()),
                        st.expect.map_or("none".to_string(), |x| x.to_string()),
                        st.signals
                    )?;
                }
            }
            writeln!(out)?;
        }
        for e in &r.rejected {
            writeln!(out, "rejected: {e}")?;
        }
    }
    if reports.len() > 1 {
        write!(out, "{}", report::total(&reports))?;
    }
    Ok(())
}

/// Generates and evaluates the seeds on as many threads as the machine offers.
fn run(seeds: &[u64], cfg: Config, policy: &Policy) -> Vec<Report> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut reports: Vec<Report> = Vec::new();
    for chunk in seeds.chunks(threads.max(1)) {
        let done: Vec<Report> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|&seed| {
                    s.spawn(move || {
                        let scenario = generate(&Config { seed, ..cfg });
                        evaluate(&scenario, seed, policy)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        reports.extend(done);
    }
    reports
}
