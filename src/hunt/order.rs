//! Scoring while the scan goes on: which collected events no event still to come can precede.
//!
//! Every listed object gets a **floor**, a lower bound on the times of the events it has not
//! handed over yet:
//! - when its key is dated by a known layout ([`cadet_ingest::layout::parse_key`]: a CloudTrail
//!   day folder, an Activity Log hour, a Cloud Logging sink period), the start of that period
//!   less the reorder window (a file delivered just after midnight holds the last minutes of
//!   the day before). Its records may come in any order inside that period;
//! - otherwise (a file in no known layout: an export, a concatenation), from what it has handed
//!   over: the newest event time seen in it less the reorder window, so such a file must be
//!   in time order within the window (an export from CloudTrail Lake or a SIEM is written in
//!   order). Until its first event it has no floor.
//!
//! The **watermark** is the lowest floor of the objects listed and not yet finished; while the
//! listing is still going, objects not yet listed may hold anything, so nothing is scored until
//! it ends (an archive's listing is in key order, which is time order only within one account
//! and region). Every collected event before the watermark can be scored: no event still to
//! come is earlier, so the events are scored in exactly the (time, object, record) order of a
//! full sort.
//!
//! The workers wait while the scorer is behind by more than a backlog and can catch up
//! ([`Flow::backlogged`]): scoring, not the scan, sets the pace, and the events held stay few.
//!
//! An event more than the window behind its own object's floor is **late**. Whether an event
//! is late depends only on its own object, never on the timing of the other workers, so a hunt
//! is deterministic: late events wait until everything else has been scored and are then
//! scored in their own time order, and the summary counts them. A window of `None` (the CLI's
//! `--reorder-window all`) gives every object a floor of minus infinity: nothing is scored
//! before the scan ends and nothing is late.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};

use super::spill::{Collector, Pending};

/// What may be scored now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Watermark {
    /// Nothing: an object that may still hand over any time is not finished.
    Blocked,
    /// Events before this time.
    Before(Timestamp),
    /// Everything: the scan is over.
    Open,
}

/// One object's floor as its worker tracks it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Floor {
    window: Option<SignedDuration>,
    /// From the key.
    key: Option<Timestamp>,
    /// The newest event time handed over so far.
    newest: Option<Timestamp>,
}

impl Floor {
    /// The floor of an object named `key`, before any of its events is seen.
    pub fn of_key(key: &str, window: Option<SignedDuration>) -> Floor {
        let key = window.and_then(|w| {
            let info = cadet_ingest::layout::parse_key(key)?;
            info.start.checked_sub(w).ok()
        });
        Floor {
            window,
            key,
            newest: None,
        }
    }

    /// The lower bound on the times of events still to come (`None`: none known).
    pub fn bound(&self) -> Option<Timestamp> {
        if self.key.is_some() {
            return self.key;
        }
        match (self.window, self.newest) {
            (Some(w), Some(t)) => t.checked_sub(w).ok(),
            _ => None,
        }
    }

    /// Takes an event time in: true when it is late (before the floor), in which case the
    /// floor does not move.
    pub fn take(&mut self, time: Timestamp) -> bool {
        if self.bound().is_some_and(|b| time < b) {
            return true;
        }
        self.newest = Some(self.newest.map_or(time, |n| n.max(time)));
        false
    }
}

/// The events between the workers and the scorer, and the floors that order them.
#[derive(Debug)]
pub(crate) struct Flow {
    /// Events on time.
    pub pending: Collector,
    /// Late events: scored after the rest.
    pub late: Collector,
    /// Objects listed and not finished: their published floors.
    floors: BTreeMap<usize, Option<Timestamp>>,
    listing_done: bool,
    /// The scan is over, however it ended (a worker's panic included): nothing more comes.
    scan_over: bool,
    /// A worker could not keep what it found.
    pub error: Option<anyhow::Error>,
}

impl Flow {
    /// An empty flow spilling past `spill` events in memory.
    pub fn new(spill: usize) -> Flow {
        Flow {
            pending: Collector::new(spill),
            late: Collector::new(spill),
            floors: BTreeMap::new(),
            listing_done: false,
            scan_over: false,
            error: None,
        }
    }

    /// An object is listed (before it is handed to a worker).
    pub fn listed(&mut self, index: usize, floor: &Floor) {
        self.floors.insert(index, floor.bound());
    }

    /// The listing is over (also when it stopped early).
    pub fn listing_done(&mut self) {
        self.listing_done = true;
    }

    /// The scan is over: whatever was listed and not handed over never will be.
    pub fn scan_over(&mut self) {
        self.scan_over = true;
    }

    /// A worker hands over events (on time and late) and its object's new floor; `floor`
    /// `None` when the object is finished.
    pub fn hand_over(
        &mut self,
        index: usize,
        on_time: Vec<Pending>,
        late: Vec<Pending>,
        floor: Option<&Floor>,
    ) {
        if self.error.is_none() {
            let kept = self
                .pending
                .extend(on_time)
                .and_then(|()| self.late.extend(late));
            if let Err(e) = kept {
                self.error = Some(e);
            }
        }
        match floor {
            Some(f) => {
                self.floors.insert(index, f.bound());
            }
            None => {
                self.floors.remove(&index);
            }
        }
    }

    /// What may be scored now.
    pub fn watermark(&self) -> Watermark {
        if self.scan_over {
            return Watermark::Open;
        }
        if !self.listing_done {
            return Watermark::Blocked;
        }
        let mut low: Option<Timestamp> = None;
        for floor in self.floors.values() {
            match floor {
                None => return Watermark::Blocked,
                Some(t) => low = Some(low.map_or(*t, |l| l.min(*t))),
            }
        }
        low.map_or(Watermark::Open, Watermark::Before)
    }

    /// Whether the workers should wait for the scorer: more than `limit` events on time are
    /// held and the scorer can take some now (so waiting never holds the watermark back: the
    /// scorer makes progress until the backlog is under the limit or nothing more can go).
    pub fn backlogged(&self, limit: usize) -> bool {
        if self.pending.held() <= limit {
            return false;
        }
        match self.watermark() {
            Watermark::Blocked => false,
            Watermark::Open => true,
            Watermark::Before(t) => self.pending.earliest().is_some_and(|e| e < t),
        }
    }

    /// Whether the scan is over and every event on time has been taken.
    pub fn drained(&self) -> bool {
        self.watermark() == Watermark::Open && self.pending.held() == 0
    }

    /// Up to `max` events that may be scored now, in order.
    pub fn take(&mut self, max: usize) -> anyhow::Result<Vec<Pending>> {
        let bound = match self.watermark() {
            Watermark::Blocked => return Ok(Vec::new()),
            Watermark::Before(t) => Some(t),
            Watermark::Open => None,
        };
        let mut out = Vec::new();
        while out.len() < max {
            match self.pending.pop_before(bound)? {
                Some(p) => out.push(p),
                None => break,
            }
        }
        Ok(out)
    }
}

/// Objects listed and waiting for a worker, earliest floor first: an object with no floor
/// (it may hold anything), then by floor, then in listing order. Scanning the listed objects in
/// that order lets the watermark rise steadily instead of waiting for the last early object of
/// an archive listed account by account. Bounded: [`Queue::push`] blocks while `capacity`
/// objects wait.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    state: std::sync::Mutex<QueueState<T>>,
    changed: std::sync::Condvar,
    capacity: usize,
}

#[derive(Debug)]
struct QueueState<T> {
    heap: std::collections::BinaryHeap<Queued<T>>,
    closed: bool,
}

/// (has a floor, floor, listing index): the smallest is scanned first.
type QueueKey = (bool, Option<Timestamp>, usize);

#[derive(Debug)]
struct Queued<T> {
    key: QueueKey,
    item: T,
}

impl<T> PartialEq for Queued<T> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<T> Eq for Queued<T> {}
impl<T> PartialOrd for Queued<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Queued<T> {
    // Reversed: `BinaryHeap` pops the greatest.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.key.cmp(&self.key)
    }
}

impl<T> Queue<T> {
    /// An empty queue holding at most `capacity` objects.
    pub fn new(capacity: usize) -> Self {
        Queue {
            state: std::sync::Mutex::new(QueueState {
                heap: std::collections::BinaryHeap::new(),
                closed: false,
            }),
            changed: std::sync::Condvar::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an object (listed `index`-th, with `floor`), waiting while the queue is full;
    /// gives it back when the queue was closed.
    pub fn push(&self, index: usize, floor: &Floor, item: T) -> Result<(), T> {
        let mut state = self.lock();
        while state.heap.len() >= self.capacity && !state.closed {
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        if state.closed {
            return Err(item);
        }
        let bound = floor.bound();
        state.heap.push(Queued {
            key: (bound.is_some(), bound, index),
            item,
        });
        drop(state);
        self.changed.notify_all();
        Ok(())
    }

    /// No more objects: the workers finish what is queued.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_all();
    }

    /// The next object to scan, waiting for one; `None` once the queue is closed and empty.
    pub fn pop(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(q) = state.heap.pop() {
                drop(state);
                self.changed.notify_all();
                return Some(q.item);
            }
            if state.closed {
                return None;
            }
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    const DAY_KEY: &str = "AWSLogs/o-abc123/111122223333/CloudTrail/us-east-1/2026/10/02/111122223333_CloudTrail_us-east-1_20261002T0005Z_x.json.gz";

    #[test]
    fn a_floor_comes_from_the_key_then_from_the_newest_event() {
        let w = Some(SignedDuration::from_mins(30));
        let mut f = Floor::of_key(DAY_KEY, w);
        assert_eq!(f.bound(), Some(ts("2026-10-01T23:30:00Z")));
        // The last minutes of the day before are on time; earlier ones are late.
        assert!(!f.take(ts("2026-10-01T23:58:00Z")));
        assert!(f.take(ts("2026-10-01T23:00:00Z")));
        // Inside its day a dated file's records come in any order.
        assert!(!f.take(ts("2026-10-02T22:00:00Z")));
        assert!(!f.take(ts("2026-10-02T01:00:00Z")));
        assert_eq!(f.bound(), Some(ts("2026-10-01T23:30:00Z")));

        // An undated file: no floor until its first event, then its newest less the window.
        let mut f = Floor::of_key("/tmp/export.ndjson", w);
        assert_eq!(f.bound(), None);
        assert!(!f.take(ts("2026-10-02T10:00:00Z")));
        assert_eq!(f.bound(), Some(ts("2026-10-02T09:30:00Z")));
        // Inside the window behind the newest: on time, and the floor stays.
        assert!(!f.take(ts("2026-10-02T09:45:00Z")));
        assert_eq!(f.bound(), Some(ts("2026-10-02T09:30:00Z")));
        assert!(f.take(ts("2026-10-02T09:00:00Z")));

        // No window: never a floor, never late.
        let mut f = Floor::of_key(DAY_KEY, None);
        assert!(!f.take(ts("2026-10-02T10:00:00Z")));
        assert!(!f.take(ts("2020-01-01T00:00:00Z")));
        assert_eq!(f.bound(), None);
    }

    #[test]
    fn the_queue_hands_out_undated_then_earliest_floor_then_listing_order() {
        let w = Some(SignedDuration::from_mins(30));
        let day = |d: u32| {
            Floor::of_key(
                &format!("AWSLogs/111122223333/CloudTrail/eu-west-1/2026/10/{d:02}/f.json.gz"),
                w,
            )
        };
        let q = Queue::new(8);
        for (i, floor) in [day(3), day(1), Floor::of_key("x.jsonl", w), day(1), day(2)]
            .iter()
            .enumerate()
        {
            assert!(q.push(i, floor, i).is_ok());
        }
        q.close();
        let order: Vec<usize> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(order, vec![2, 1, 3, 4, 0]);
        // Closed: nothing more goes in.
        assert_eq!(q.push(9, &day(1), 9), Err(9));
    }

    #[test]
    fn the_watermark_waits_for_the_listing_and_the_lowest_floor() {
        let w = Some(SignedDuration::from_mins(30));
        let mut flow = Flow::new(4);
        let dated = Floor::of_key(DAY_KEY, w);
        let undated = Floor::of_key("/tmp/export.ndjson", w);
        flow.listed(0, &dated);
        assert_eq!(flow.watermark(), Watermark::Blocked);
        flow.listed(1, &undated);
        flow.listing_done();
        // An undated object not started yet may hold anything.
        assert_eq!(flow.watermark(), Watermark::Blocked);
        let mut seen = undated;
        assert!(!seen.take(ts("2026-10-05T00:00:00Z")));
        flow.hand_over(1, Vec::new(), Vec::new(), Some(&seen));
        assert_eq!(
            flow.watermark(),
            Watermark::Before(ts("2026-10-01T23:30:00Z"))
        );
        flow.hand_over(0, Vec::new(), Vec::new(), None);
        assert_eq!(
            flow.watermark(),
            Watermark::Before(ts("2026-10-04T23:30:00Z"))
        );
        flow.hand_over(1, Vec::new(), Vec::new(), None);
        assert_eq!(flow.watermark(), Watermark::Open);
        assert!(flow.drained());

        // A scan that ended without finishing its objects (a worker panicked) opens it too.
        let mut flow = Flow::new(4);
        flow.listed(0, &undated);
        assert_eq!(flow.watermark(), Watermark::Blocked);
        flow.scan_over();
        assert_eq!(flow.watermark(), Watermark::Open);
    }
}
