//! The events waiting to be scored, bounded in memory, handed out in event-time order as soon
//! as no event still to come can precede them.
//!
//! A [`Collector`] is a priority queue over (event time, object, record): events go in as the
//! workers find them, in any order; [`Collector::pop_before`] takes the earliest one while it
//! is before a bound (the hunt's watermark). Past [`SPILL_EVENTS`] held in memory, the held
//! events are written, sorted, to an anonymous temporary file (a sorted run, JSON lines), and
//! the runs' heads take part in every pop: a hunt's memory does not grow with the number of
//! T1651 events any more than with the size of the archive, even when the watermark cannot
//! advance (an archive listed out of time order).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};

use anyhow::{Context, Result};
use cadet_core::CommandEvent;
use jiff::Timestamp;
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

type Key = (Timestamp, usize, usize);

impl Pending {
    fn key(&self) -> Key {
        (self.event.event_time, self.object, self.record)
    }
}

/// A pending event ordered by its key.
#[derive(Debug)]
struct ByKey(Pending);

impl PartialEq for ByKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}
impl Eq for ByKey {}
impl PartialOrd for ByKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.key().cmp(&other.0.key())
    }
}

/// A sorted run on disk and its next event.
struct Run {
    lines: std::io::Lines<BufReader<std::fs::File>>,
    head: Option<Pending>,
}

impl Run {
    fn advance(&mut self) -> Result<()> {
        self.head = match self.lines.next() {
            None => None,
            Some(line) => {
                let line = line.context("reading sorted events back")?;
                Some(serde_json::from_str(&line).context("reading sorted events back")?)
            }
        };
        Ok(())
    }
}

/// Events waiting to be scored (see the module documentation).
pub struct Collector {
    mem: BinaryHeap<Reverse<ByKey>>,
    runs: Vec<Run>,
    /// The runs' heads: (key, run index).
    heads: BinaryHeap<Reverse<(Key, usize)>>,
    limit: usize,
    total: usize,
    held: usize,
    most_held: usize,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collector")
            .field("in_memory", &self.mem.len())
            .field("runs", &self.runs.len())
            .field("held", &self.held)
            .finish()
    }
}

impl Collector {
    /// An empty collector spilling past `limit` events in memory.
    pub fn new(limit: usize) -> Self {
        Collector {
            mem: BinaryHeap::new(),
            runs: Vec::new(),
            heads: BinaryHeap::new(),
            limit: limit.max(1),
            total: 0,
            held: 0,
            most_held: 0,
        }
    }

    /// Adds events; spills a sorted run when memory holds more than the limit.
    pub fn extend(&mut self, found: impl IntoIterator<Item = Pending>) -> Result<()> {
        for p in found {
            self.total += 1;
            self.held += 1;
            self.mem.push(Reverse(ByKey(p)));
        }
        self.most_held = self.most_held.max(self.held);
        if self.mem.len() > self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        // Ascending `Reverse` is descending keys: written back to front.
        let sorted = std::mem::take(&mut self.mem).into_sorted_vec();
        let file = tempfile::tempfile().context("creating a temporary file for sorted events")?;
        let mut w = BufWriter::new(file);
        for Reverse(ByKey(p)) in sorted.iter().rev() {
            serde_json::to_writer(&mut w, p).context("writing sorted events")?;
            w.write_all(b"\n").context("writing sorted events")?;
        }
        let mut file = w
            .into_inner()
            .map_err(|e| e.into_error())
            .context("writing sorted events")?;
        file.rewind().context("rewinding sorted events")?;
        let mut run = Run {
            lines: BufReader::new(file).lines(),
            head: None,
        };
        run.advance()?;
        if let Some(p) = &run.head {
            self.heads.push(Reverse((p.key(), self.runs.len())));
        }
        self.runs.push(run);
        Ok(())
    }

    /// How many events were collected.
    pub fn len(&self) -> usize {
        self.total
    }

    /// How many events are held now.
    pub fn held(&self) -> usize {
        self.held
    }

    /// The most events held at once (in memory and in runs).
    pub fn most_held(&self) -> usize {
        self.most_held
    }

    /// The time of the earliest event held.
    pub fn earliest(&self) -> Option<Timestamp> {
        let mem = self.mem.peek().map(|Reverse(ByKey(p))| p.event.event_time);
        let run = self.heads.peek().map(|Reverse((k, _))| k.0);
        match (mem, run) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Removes and returns the earliest event held, if its time is before `bound` (`None`:
    /// no bound).
    pub fn pop_before(&mut self, bound: Option<Timestamp>) -> Result<Option<Pending>> {
        let mem = self.mem.peek().map(|Reverse(ByKey(p))| p.key());
        let run = self.heads.peek().map(|Reverse((k, i))| (*k, *i));
        let from_run = match (mem, run) {
            (None, None) => return Ok(None),
            (Some(m), Some((r, _))) => r < m,
            (None, Some(_)) => true,
            (Some(_), None) => false,
        };
        let first = if from_run { run.map(|r| r.0) } else { mem };
        if first.is_none_or(|k| bound.is_some_and(|b| k.0 >= b)) {
            return Ok(None);
        }
        self.held -= 1;
        if !from_run {
            return Ok(self.mem.pop().map(|Reverse(ByKey(p))| p));
        }
        let Some(Reverse((_, i))) = self.heads.pop() else {
            return Ok(None);
        };
        let run = &mut self.runs[i];
        let out = run.head.take();
        run.advance()?;
        if let Some(p) = &run.head {
            self.heads.push(Reverse((p.key(), i)));
        }
        Ok(out)
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

    fn pending(t: i64, i: usize) -> Pending {
        Pending {
            event: event(t),
            object: i % 3,
            record: i,
            source: format!("object {}", i % 3),
        }
    }

    fn drain(c: &mut Collector, bound: Option<i64>) -> Vec<Key> {
        let bound =
            bound.map(|b| jiff::Timestamp::from_second(b).unwrap_or_else(|e| panic!("{e}")));
        std::iter::from_fn(|| c.pop_before(bound).unwrap_or_else(|e| panic!("{e}")))
            .map(|p| p.key())
            .collect()
    }

    #[test]
    fn merges_spilled_runs_in_time_then_input_order() {
        let mut c = Collector::new(3);
        // Times out of order, across objects; ties broken by (object, record).
        let times = [50, 10, 40, 10, 30, 20, 10, 60, 5, 45];
        for (i, t) in times.iter().enumerate() {
            c.extend(vec![pending(*t, i)])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        assert!(c.runs.len() >= 2, "should have spilled");
        assert_eq!((c.len(), c.most_held()), (times.len(), times.len()));
        let got = drain(&mut c, None);
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(got.len(), times.len());
        assert_eq!(got[0].0.as_second(), 5);
    }

    /// Pops stop at the bound, events keep arriving between pops (in memory and in runs), and
    /// what comes out is in key order across the whole stream as long as no event arrives
    /// behind a bound already used.
    #[test]
    fn pops_stop_at_the_bound_while_events_keep_arriving() {
        let mut c = Collector::new(2);
        let mut got = Vec::new();
        let mut i = 0;
        for (batch, bound) in [
            (vec![30, 12, 20, 25, 11], 20),
            (vec![22, 20, 40, 33], 30),
            (vec![31, 30, 35, 50, 45, 41], 41),
        ] {
            let batch: Vec<Pending> = batch
                .into_iter()
                .map(|t| {
                    i += 1;
                    pending(t, i)
                })
                .collect();
            c.extend(batch).unwrap_or_else(|e| panic!("{e}"));
            let out = drain(&mut c, Some(bound));
            assert!(out.iter().all(|k| k.0.as_second() < bound), "{out:?}");
            got.extend(out);
        }
        assert!(!c.runs.is_empty(), "should have spilled");
        let held_before_end = c.held;
        got.extend(drain(&mut c, None));
        assert_eq!(held_before_end, 3); // 41, 45, 50
        assert_eq!(c.held, 0);
        let mut want = got.clone();
        want.sort();
        assert_eq!(got, want);
        assert_eq!(got.len(), 15);
        assert_eq!(c.most_held(), 9);
    }
}
