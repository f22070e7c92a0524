//! `cadet-scenario`: generate the synthetic organisation, score it, print the quality report.
//!
//! ```text
//! cadet-scenario [--seed N] [--warmup-weeks N] [--weeks N] [--policy FILE] [--dump FILE]
//! ```
//!
//! `--dump FILE` writes the records as NDJSON (one delivery a line) so the same weeks can be
//! fed to `cadet detect`.

use std::io::Write;

use anyhow::{bail, Context};
use cadet_core::Policy;
use cadet_scenario::{evaluate, generate, Config};

fn main() -> anyhow::Result<()> {
    let mut cfg = Config::default();
    let mut policy = Policy::default();
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--seed" => cfg.seed = value("--seed")?.parse().context("--seed")?,
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
            "-h" | "--help" => {
                println!("cadet-scenario [--seed N] [--warmup-weeks N] [--weeks N] [--policy FILE] [--dump FILE]");
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    let records = generate(&cfg);
    if let Some(path) = dump {
        let mut f = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {path}"))?,
        );
        for r in &records {
            writeln!(f, "{}", r.json)?;
        }
        f.flush()?;
    }
    let report = evaluate(&records, &policy);
    print!("{report}");
    Ok(())
}
