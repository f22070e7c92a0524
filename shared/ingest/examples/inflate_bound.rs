//! The inflate-only bound of `make bench-hunt`: every core gunzips the same `.gz` files as a
//! hunt reads, with the same flate2 backend, and discards the output. No splitting, no parsing:
//! the fastest any gzip archive reader can go on this machine.
//!
//! usage: inflate_bound DIR [THREADS] [--split | --skip-all]   (THREADS default, or 0: one per core)
//! prints: files, compressed bytes, decompressed bytes (of the records handed out, with
//! `--split`), seconds
//!
//! `--split` also splits the records with `cadet_ingest::Records` (inflate + split, no
//! parsing): the share of a hunt's time the reader itself takes. `--skip-all` splits and
//! skips every record in place, as a hunt's pre-filter skips the ~99 % it does not want (no
//! record is copied out): the floor of any reader that finds record boundaries.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use rayon::prelude::*;

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "gz") {
            out.push(p);
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: inflate_bound DIR [THREADS] [--split | --skip-all]");
        std::process::exit(2);
    };
    let rest: Vec<String> = args.collect();
    let skip_all = rest.iter().any(|a| a == "--skip-all");
    let split = skip_all || rest.iter().any(|a| a == "--split");
    let threads: usize = rest
        .iter()
        .find(|a| !a.starts_with("--"))
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut files = Vec::new();
    walk(Path::new(&dir), &mut files);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let (compressed, decompressed) = (AtomicU64::new(0), AtomicU64::new(0));
    let skipped = AtomicU64::new(0);
    let start = Instant::now();
    pool.install(|| {
        files.par_iter().for_each(|p| {
            let Ok(f) = std::fs::File::open(p) else {
                return;
            };
            compressed.fetch_add(
                f.metadata().map(|m| m.len()).unwrap_or(0),
                Ordering::Relaxed,
            );
            if split {
                let mut records = cadet_ingest::Records::new(f, cadet_ingest::Limits::default());
                if skip_all {
                    records = records.skipping(|_| true);
                }
                let n: u64 = records
                    .by_ref()
                    .map_while(Result::ok)
                    .map(|item| match item {
                        cadet_ingest::Item::Record(r) => r.text.len() as u64,
                        cadet_ingest::Item::Rejected(_) => 0,
                    })
                    .sum();
                decompressed.fetch_add(n, Ordering::Relaxed);
                skipped.fetch_add(records.skipped(), Ordering::Relaxed);
                return;
            }
            let mut dec =
                flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(64 * 1024, f));
            let mut buf = vec![0u8; 64 * 1024];
            let mut n = 0u64;
            while let Ok(k) = dec.read(&mut buf) {
                if k == 0 {
                    break;
                }
                n += k as u64;
            }
            decompressed.fetch_add(n, Ordering::Relaxed);
        })
    });
    let skipped = skipped.load(Ordering::Relaxed);
    println!(
        "{} files, {} compressed bytes, {} decompressed bytes{}, {:.3} s",
        files.len(),
        compressed.load(Ordering::Relaxed),
        decompressed.load(Ordering::Relaxed),
        if skip_all {
            format!(" handed out ({skipped} records split and skipped)")
        } else {
            String::new()
        },
        start.elapsed().as_secs_f64()
    );
}
