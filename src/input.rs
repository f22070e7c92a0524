//! Reading inputs: files, directories (walked), stdin; gzip detected by magic bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// One input source to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Source {
    /// Name used in messages.
    pub fn display(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

/// File names a directory walk picks up (files named explicitly are always read).
fn is_event_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    [".json", ".jsonl", ".ndjson", ".gz", ".log"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Expands the command-line paths into sources, in order: `-` is stdin, directories are walked
/// recursively in sorted order. A path that does not exist is returned as an error for that
/// path, and the others still expand.
pub fn expand(paths: &[String]) -> Vec<Result<Source, (String, anyhow::Error)>> {
    if paths.is_empty() {
        return vec![Ok(Source::Stdin)];
    }
    let mut out = Vec::new();
    for p in paths {
        if p == "-" {
            out.push(Ok(Source::Stdin));
            continue;
        }
        let path = PathBuf::from(p);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                let mut files = Vec::new();
                if let Err(e) = walk(&path, &mut files) {
                    out.push(Err((p.clone(), e)));
                }
                files.sort();
                out.extend(files.into_iter().map(|f| Ok(Source::File(f))));
            }
            Ok(_) => out.push(Ok(Source::File(path))),
            Err(e) => out.push(Err((p.clone(), anyhow::Error::new(e)))),
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("reading directory {}", dir.display()))?;
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'))
            {
                walk(&path, files)?;
            }
        } else if is_event_file(&path) {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads a source completely, gunzipping when it starts with the gzip magic bytes.
pub fn read(source: &Source) -> Result<String> {
    let mut raw = Vec::new();
    match source {
        Source::Stdin => {
            std::io::stdin()
                .lock()
                .read_to_end(&mut raw)
                .context("reading stdin")?;
        }
        Source::File(p) => {
            raw = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        }
    }
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .context("decompressing gzip")?;
        out
    } else {
        raw
    };
    let text = String::from_utf8(bytes).context("input is not UTF-8 text")?;
    // A UTF-8 byte order mark is not JSON; exporters on Windows write one.
    Ok(text
        .strip_prefix('\u{feff}')
        .map(str::to_string)
        .unwrap_or(text))
}
