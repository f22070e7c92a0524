//! `cadet baseline seed|show|export|import`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use cadet_core::baseline::{observe_only, BaselineStore, Put};
use cadet_state::ExportLine;

use crate::state::Store;

/// `seed`: learn from historical files without scoring or alerting.
pub fn seed(
    store: &Store,
    paths: &[String],
    limits: cadet_ingest::Limits,
) -> Result<(usize, usize, usize)> {
    let record = |id: &str, name: Option<&str>| store.record_name(id, name);
    crate::with_store!(store, s => seed_with(s, paths, limits, &record))
}

fn seed_with<S: BaselineStore>(
    store: &S,
    paths: &[String],
    limits: cadet_ingest::Limits,
    record_name: &dyn Fn(&str, Option<&str>),
) -> Result<(usize, usize, usize)> {
    use cadet_ingest::Item;
    let (mut learned, mut duplicates, mut rejected) = (0, 0, 0);
    for source in cadet_ingest::expand(paths) {
        let source = source.map_err(|w| anyhow::anyhow!("{}: cannot read: {}", w.path, w.error))?;
        let name = source.display();
        let records = crate::detect::open_input(&source, limits)
            .map_err(|e| anyhow::anyhow!("{name}: cannot read: {e}"))?;
        for item in records {
            let item = match item {
                Ok(item) => item,
                Err(e) if !e.fatal => {
                    eprintln!("error: {name}: {e}");
                    rejected += 1;
                    continue;
                }
                Err(e) => anyhow::bail!("{name}: cannot read: {e}"),
            };
            let (pos, normalized) = match item {
                Item::Record(r) => (r.position, cadet_core::normalize(&r.text)),
                Item::Rejected(r) => {
                    eprintln!("error: {name}: {}: {}", r.position, r.reason);
                    rejected += 1;
                    continue;
                }
            };
            match normalized {
                Ok(Some(ev)) => {
                    record_name(&ev.principal.id, ev.principal.name.as_deref());
                    if observe_only(store, &ev)
                        .map_err(|e| anyhow::anyhow!("{name}: {pos}: {e}"))?
                    {
                        learned += 1;
                    } else {
                        duplicates += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    eprintln!("error: {name}: {pos}: {e}");
                    rejected += 1;
                }
            }
        }
    }
    Ok((learned, duplicates, rejected))
}

/// `show`: profiles whose principal matches (exact id, or a case-insensitive substring of the
/// key), or whose principal was seen under a matching display name (an Azure user's UPN:
/// profiles are keyed by object id), as pretty JSON.
pub fn show(store: &Store, principal: &str) -> Result<usize> {
    let needle = principal.to_ascii_lowercase();
    let wanted = principal.to_lowercase();
    let named: Vec<String> = store
        .names()?
        .into_iter()
        .filter(|(_, name)| name.to_lowercase().contains(&wanted))
        .map(|(id, _)| id.to_ascii_lowercase())
        .collect();
    let mut shown = 0;
    let mut out = std::io::BufWriter::new(crate::output::stdout());
    for (key, profile) in store.entries()? {
        let principal_part = key.splitn(3, '|').nth(2).unwrap_or("");
        if principal_part == "*" {
            continue;
        }
        let lower = key.to_ascii_lowercase();
        if principal_part == principal
            || lower.contains(&needle)
            || named.iter().any(|id| lower.contains(id.as_str()))
        {
            let line = ExportLine { key, profile };
            serde_json::to_writer_pretty(&mut out, &line)?;
            writeln!(out)?;
            shown += 1;
        }
    }
    out.flush()?;
    Ok(shown)
}

/// `export`: every profile as JSON lines.
pub fn export(store: &Store) -> Result<usize> {
    let mut out = std::io::BufWriter::new(crate::output::stdout());
    let entries = store.entries()?;
    let n = entries.len();
    for (key, profile) in entries {
        serde_json::to_writer(&mut out, &ExportLine { key, profile })?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(n)
}

/// `import`: JSON lines from `export` (file or `-`), replacing profiles with the same key.
pub fn import(store: &Store, file: &str) -> Result<usize> {
    crate::with_store!(store, s => import_with(s, file))
}

fn import_with<S: BaselineStore>(store: &S, file: &str) -> Result<usize> {
    let reader: Box<dyn BufRead> = if file == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(PathBuf::from(file)).with_context(|| format!("opening {file}"))?,
        ))
    };
    let mut n = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{file}: line {}", i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let rec: ExportLine = serde_json::from_str(&line)
            .with_context(|| format!("{file}: line {}: not an export line", i + 1))?;
        loop {
            let current = store.get(&rec.key).map_err(|e| anyhow::anyhow!("{e}"))?;
            match store
                .put(
                    &rec.key,
                    rec.profile.clone(),
                    current.as_ref().map(|c| &c.version),
                )
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                Put::Written(_) => break,
                Put::Conflict => continue,
            }
        }
        n += 1;
    }
    Ok(n)
}
