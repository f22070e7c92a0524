//! The events waiting to be scored, bounded in memory: past [`SPILL_EVENTS`] they are sorted
//! and written to an anonymous temporary file (a sorted run, JSON lines), and the runs are
//! merged back in event-time order for scoring. A hunt's memory therefore does not grow with
//! the number of T1651 events any more than with the size of the archive.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};

use anyhow::{Context, Result};
use cadet_core::CommandEvent;
use serde::{Deserialize, Serialize};

/// Events kept in memory before a run is written (≈ 1–2 KiB each).
pub const SPILL_EVENTS: usize = 8192;

/// A normalized event waiting to be scored, with its place in the input for stable ordering.
#[derive(Debug, Serialize, Deserialize)]
pub struct Pending {
    /// The event.
    pub event: CommandEvent,
    /// Index of its object in the listing.
    pub object: usize,
    /// Its record number in the object.
    pub record: usize,
    /// The object's name, for a message if scoring the event fails.
    pub source: String,
}

type Key = (jiff::Timestamp, usize, usize);

impl Pending {
    fn key(&self) -> Key {
        (self.event.event_time, self.object, self.record)
    }
}

/// Collects events from the workers.
#[derive(Debug)]
pub struct Collector {
    mem: Vec<Pending>,
    runs: Vec<std::fs::File>,
    limit: usize,
    total: usize,
}

impl Collector {
    /// An empty collector spilling past `limit` events.
    pub fn new(limit: usize) -> Self {
        Collector {
            mem: Vec::new(),
            runs: Vec::new(),
            limit: limit.max(1),
            total: 0,
        }
    }

    /// Adds events; spills a sorted run when memory holds more than the limit.
    pub fn extend(&mut self, found: Vec<Pending>) -> Result<()> {
        self.total += found.len();
        self.mem.extend(found);
        if self.mem.len() > self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.mem.sort_by_key(Pending::key);
        let file = tempfile::tempfile().context("creating a temporary file for sorted events")?;
        let mut w = BufWriter::new(file);
        for p in self.mem.drain(..) {
            serde_json::to_writer(&mut w, &p).context("writing sorted events")?;
            w.write_all(b"\n").context("writing sorted events")?;
        }
        let mut file = w
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing sorted events")?;
        file.rewind().context("rewinding sorted events")?;
        self.runs.push(file);
        Ok(())
    }

    /// How many events were collected.
    pub fn len(&self) -> usize {
        self.total
    }

    /// Every event, in (event time, object, record) order.
    pub fn into_sorted(mut self) -> Result<Sorted> {
        self.mem.sort_by_key(Pending::key);
        let mut sources: Vec<Source> = self
            .runs
            .into_iter()
            .map(|f| Source::Run(BufReader::new(f).lines()))
            .collect();
        sources.push(Source::Mem(self.mem.into_iter()));
        let mut heads = Vec::with_capacity(sources.len());
        let mut heap = BinaryHeap::new();
        for (i, s) in sources.iter_mut().enumerate() {
            let head = s.next()?;
            if let Some(p) = &head {
                heap.push(Reverse((p.key(), i)));
            }
            heads.push(head);
        }
        Ok(Sorted {
            sources,
            heads,
            heap,
        })
    }
}

enum Source {
    Run(std::io::Lines<BufReader<std::fs::File>>),
    Mem(std::vec::IntoIter<Pending>),
}

impl Source {
    fn next(&mut self) -> Result<Option<Pending>> {
        match self {
            Source::Mem(it) => Ok(it.next()),
            Source::Run(lines) => match lines.next() {
                None => Ok(None),
                Some(line) => {
                    let line = line.context("reading sorted events back")?;
                    Ok(Some(
                        serde_json::from_str(&line).context("reading sorted events back")?,
                    ))
                }
            },
        }
    }
}

/// A k-way merge of the sorted runs and the in-memory remainder.
pub struct Sorted {
    sources: Vec<Source>,
    heads: Vec<Option<Pending>>,
    heap: BinaryHeap<Reverse<(Key, usize)>>,
}

impl std::fmt::Debug for Sorted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sorted")
            .field("runs", &self.sources.len())
            .finish()
    }
}

impl Iterator for Sorted {
    type Item = Result<Pending>;

    fn next(&mut self) -> Option<Self::Item> {
        let Reverse((_, i)) = self.heap.pop()?;
        let out = self.heads[i].take()?;
        match self.sources[i].next() {
            Ok(Some(p)) => {
                self.heap.push(Reverse((p.key(), i)));
                self.heads[i] = Some(p);
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(secs: i64) -> CommandEvent {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("events/aws/sendcommand-root.json"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut e = cadet_core::normalize(&text)
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("not an event"));
        e.event_time = jiff::Timestamp::from_second(secs).unwrap_or_else(|e| panic!("{e}"));
        e
    }

    #[test]
    fn merges_spilled_runs_in_time_then_input_order() {
        let mut c = Collector::new(3);
        // Times out of order, across objects; ties broken by (object, record).
        let times = [50, 10, 40, 10, 30, 20, 10, 60, 5, 45];
        for (i, t) in times.iter().enumerate() {
            c.extend(vec![Pending {
                event: event(*t),
                object: i % 3,
                record: i,
                source: format!("object {}", i % 3),
            }])
            .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(c.runs.len() >= 2, "should have spilled");
        assert_eq!(c.len(), times.len());
        let got: Vec<Key> = c
            .into_sorted()
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|p| p.unwrap_or_else(|e| panic!("{e}")).key())
            .collect();
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(got.len(), times.len());
        assert_eq!(got[0].0.as_second(), 5);
    }
}
