//! cadet-ingest: streaming, bounded readers that turn inputs into JSON records.
//!
//! Every adapter of cadet reads records from somewhere: the CLI from files, directories and
//! stdin, the Lambda (later) from S3 objects, `cadet hunt` from archives. This crate is the one
//! place that does it, so that all of them share the same guarantees:
//!
//! - **Streaming.** Input is read through [`std::io::Read`] and split as it arrives:
//!   newline-delimited JSON line by line, a CloudTrail log file `{"Records":[…]}` or an Activity
//!   Log export `{"records":[…]}` element by element, a JSON array element by element, gzip
//!   (any number of members) decoded incrementally. Memory is bounded by one record
//!   ([`Limits::max_record_bytes`]) plus fixed buffers, whatever the input's size.
//! - **One bad record costs one record.** A record that is not UTF-8, too large or too deeply
//!   nested is [`Item::Rejected`] with its [`Position`] (record number, line, byte offset) and
//!   splitting goes on. A record that is not valid JSON is handed out as text like any other:
//!   the normalizer (`cadet_core::normalize`) names the JSON error. In newline-delimited input a
//!   record cut short (a truncated line) ends at its newline, so the next line is read intact.
//! - **Truncated or hostile inputs.** A truncated or corrupt gzip stream yields every record
//!   completed before the damage, then one [`InputError`]; so does a gzip stream that expands
//!   more than [`Limits::max_gzip_ratio`] times its compressed size (a decompression bomb).
//! - **Linear.** Positions are counted as bytes go by; nothing is rescanned.
//! - **No endless reads by accident.** [`open`] refuses FIFOs, sockets and devices (named on the
//!   command line or met in a directory walk): a read from them may never end. Stdin is read as
//!   given. [`expand`] reports an unreadable directory entry and walks on.
//!
//! A top-level object whose first key is not `Records` but which holds a `Records` /
//! `records` array further on is expanded once it is complete (it is bounded by the record
//! size limit like any record).
//!
//! [`layout`] knows the archive layouts (CloudTrail organisation trails, the Activity Log
//! archive, Cloud Logging sinks to Cloud Storage) and plans which prefixes of a bucket, container or directory a reader can skip for
//! a time window, accounts and regions; it is pure (no client), shared by every archive reader.
//!
//! The crate does no normalization and does not depend on `cadet-core`: it hands out record
//! text, and the pure core stays free of I/O. It lives apart from `cadet-state` and
//! `cadet-sinks` so a reader of objects (the Lambda) or archives (the CLI) pulls in neither a
//! database nor an HTTP client to split records.
//!
//! ```
//! use cadet_ingest::{Item, Limits, Records};
//! let input = "{\"a\":1}\n{\"b\":\n{\"c\":3}\n";
//! let items: Vec<Item> = Records::new(input.as_bytes(), Limits::default())
//!     .collect::<Result<_, _>>()
//!     .unwrap();
//! assert_eq!(items.len(), 3); // the cut record 2 is handed out alone; record 3 is intact
//! ```
#![deny(missing_docs)]

pub mod layout;
mod scan;
mod source;
mod split;

use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use source::{expand, open, Source, WalkError};
use split::Splitter;

/// Bounds applied while reading. Each one, when hit, costs the record (or, for the gzip ratio,
/// the rest of the input) and a clear error; reading goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest record, in bytes of (decompressed) JSON text. Larger records are skipped without
    /// being held in memory.
    pub max_record_bytes: usize,
    /// Most decompressed bytes per compressed byte of a gzip input (plus 1 MiB of slack for
    /// small inputs). Deflate cannot exceed ~1032:1, so any value below that stops a bomb.
    pub max_gzip_ratio: u64,
    /// Deepest nesting of objects and arrays inside one record (the record itself is level 1).
    pub max_depth: usize,
}

/// Default [`Limits::max_record_bytes`]: 4 MiB. CloudTrail caps an event at 256 KB
/// (EventBridge) and Activity Log records are a few KB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 4 * 1024 * 1024;
/// Default [`Limits::max_gzip_ratio`]: 200. CloudTrail and Activity Log JSON compresses 10–30×;
/// a whitespace bomb compresses ~1000×.
pub const DEFAULT_MAX_GZIP_RATIO: u64 = 200;
/// Default [`Limits::max_depth`]: 64 (real records nest under 15 levels).
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Decompressed bytes always allowed before the ratio applies.
pub const GZIP_RATIO_SLACK: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
            max_gzip_ratio: DEFAULT_MAX_GZIP_RATIO,
            max_depth: DEFAULT_MAX_DEPTH,
        }
    }
}

/// Where a record starts in its (decompressed) input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based number of the record in the input, after containers are expanded.
    pub index: usize,
    /// 1-based line of the record's first byte; 0 for an input without lines (the rows of a
    /// Parquet file).
    pub line: u64,
    /// 0-based byte offset of the record's first byte (in the decompressed text for gzip).
    pub offset: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `record N (line L)` is the CLI's error-line contract; the byte offset follows. Line
        // 0: an input without lines (a Parquet file's rows), where the number is all there is.
        if self.line == 0 {
            return write!(f, "record {}", self.index);
        }
        write!(
            f,
            "record {} (line {}) at byte {}",
            self.index, self.line, self.offset
        )
    }
}

/// One record's JSON text (not yet validated as JSON: the normalizer does that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Where it starts.
    pub position: Position,
    /// The text, valid UTF-8 (a leading byte order mark is dropped).
    pub text: String,
}

/// Why a record was rejected without being handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// The record's bytes are not UTF-8.
    #[error("not UTF-8 text: invalid byte at offset {at}")]
    NotUtf8 {
        /// Byte offset (in the input) of the first invalid byte.
        at: u64,
    },
    /// The record is larger than [`Limits::max_record_bytes`].
    #[error(
        "record larger than {limit} bytes (at least {size}); skipped (limit: --max-record-size)"
    )]
    TooLarge {
        /// The limit.
        limit: usize,
        /// Bytes seen before the record ended (or the input did).
        size: u64,
    },
    /// Objects and arrays nested deeper than [`Limits::max_depth`].
    #[error("nested more than {limit} levels deep; skipped (limit: --max-depth)")]
    TooDeep {
        /// The limit.
        limit: usize,
    },
    /// The input ended inside a container (a `Records` array or a top-level array).
    #[error("input ends inside {0} (truncated?)")]
    Truncated(&'static str),
}

/// A rejected record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Where it starts.
    pub position: Position,
    /// Why.
    pub reason: Reject,
}

/// What a reader yields per record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A record's text.
    Record(Record),
    /// A record that could not be handed out.
    Rejected(Rejected),
}

impl Item {
    /// The record's position.
    pub fn position(&self) -> Position {
        match self {
            Item::Record(r) => r.position,
            Item::Rejected(r) => r.position,
        }
    }
}

/// Why the rest of an input cannot be read. Records before it were all handed out.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The input cannot be opened.
    #[error("{0}")]
    Open(std::io::Error),
    /// Not a regular file: reading it may never end.
    #[error("{0}, not a regular file: refused, since reading it may never end (pipe it to stdin with `-` to read it anyway)")]
    NotRegular(&'static str),
    /// Reading failed part-way.
    #[error("read failed after byte {after}{in_progress}: {source}")]
    Read {
        /// Bytes read successfully.
        after: u64,
        /// Describes the record lost with the rest of the input, if any.
        in_progress: String,
        /// The error.
        source: std::io::Error,
    },
    /// The gzip stream is truncated or corrupt.
    #[error(
        "gzip stream truncated or corrupt after {after} decompressed bytes{in_progress}: {source}"
    )]
    Gzip {
        /// Decompressed bytes read successfully.
        after: u64,
        /// Describes the record lost with the rest of the input, if any.
        in_progress: String,
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The gzip stream expands more than the allowed ratio.
    #[error("gzip stream expands more than {ratio}x its compressed size ({decompressed} bytes from {compressed}); the rest is skipped as a likely decompression bomb (limit: --max-gzip-ratio)")]
    Bomb {
        /// The limit.
        ratio: u64,
        /// Compressed bytes read.
        compressed: u64,
        /// Decompressed bytes produced.
        decompressed: u64,
    },
}

/// Splits a byte stream into records. Gzip is recognized by its magic bytes and decoded as the
/// records are read.
///
/// The iterator yields every [`Item`] in input order; on an [`InputError`] it yields that error
/// once and ends.
pub struct Records<R> {
    inner: R,
    splitter: Splitter,
    pending: std::collections::VecDeque<Item>,
    gzip: Option<Arc<Counters>>,
    failed: Option<std::io::Error>,
    done: bool,
}

impl<R> std::fmt::Debug for Records<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("offset", &self.splitter.offset())
            .field("gzip", &self.gzip.is_some())
            .field("done", &self.done)
            .finish()
    }
}

/// Compressed bytes read and decompressed bytes produced, for the ratio guard.
#[derive(Debug, Default)]
struct Counters {
    compressed: AtomicU64,
    decompressed: AtomicU64,
}

struct CountingReader<R> {
    inner: R,
    counters: Arc<Counters>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counters
            .compressed
            .fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[derive(Debug)]
struct RatioExceeded;

impl std::fmt::Display for RatioExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("decompression ratio exceeded")
    }
}

impl std::error::Error for RatioExceeded {}

struct RatioGuard<R> {
    inner: R,
    counters: Arc<Counters>,
    ratio: u64,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let out = self
            .counters
            .decompressed
            .fetch_add(n as u64, Ordering::Relaxed)
            + n as u64;
        let compressed = self.counters.compressed.load(Ordering::Relaxed);
        if out
            > compressed
                .saturating_mul(self.ratio)
                .saturating_add(GZIP_RATIO_SLACK)
        {
            return Err(std::io::Error::other(RatioExceeded));
        }
        Ok(n)
    }
}

/// Buffer size of the readers.
const BUF: usize = 64 * 1024;

/// The boxed reader [`Records::new`] builds.
pub type BoxedRead = Box<dyn BufRead + Send>;

impl Records<BoxedRead> {
    /// Reads `input`, gunzipping it when it starts with the gzip magic bytes.
    pub fn new(input: impl Read + Send + 'static, limits: Limits) -> Self {
        let mut raw: Box<dyn Read + Send> = Box::new(input);
        let mut magic = [0u8; 2];
        let mut n = 0;
        let mut failed = None;
        while n < 2 {
            match raw.read(&mut magic[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let chained = std::io::Cursor::new(magic[..n].to_vec()).chain(raw);
        let (inner, gzip): (BoxedRead, _) = if n == 2 && magic == [0x1f, 0x8b] {
            let counters = Arc::new(Counters::default());
            let counted = CountingReader {
                inner: chained,
                counters: counters.clone(),
            };
            let guard = RatioGuard {
                inner: flate2::read::MultiGzDecoder::new(counted),
                counters: counters.clone(),
                ratio: limits.max_gzip_ratio.max(1),
            };
            (
                Box::new(BufReader::with_capacity(BUF, guard)),
                Some(counters),
            )
        } else {
            (Box::new(BufReader::with_capacity(BUF, chained)), None)
        };
        Records {
            inner,
            splitter: Splitter::new(limits),
            pending: Default::default(),
            gzip,
            failed,
            done: false,
        }
    }
}

impl<R: BufRead> Records<R> {
    /// Splits an already decoded (not gzip) buffered stream.
    pub fn plain(inner: R, limits: Limits) -> Self {
        Records {
            inner,
            splitter: Splitter::new(limits),
            pending: Default::default(),
            gzip: None,
            failed: None,
            done: false,
        }
    }

    /// Skips the records `skip` returns true for: they are split, counted ([`Self::skipped`])
    /// and given positions like the rest, but not handed out — no allocation, no copy out.
    /// `skip` sees the record's raw bytes, in place, before any check of their own: a record
    /// it skips is not checked for UTF-8 (to keep that check, have `skip` return false for
    /// bytes that are not UTF-8, and the record is rejected as usual). It never sees a
    /// top-level object that embeds a `Records` array. For a cheap pre-filter in front of
    /// the normalizer (`cadet hunt`); return false to see every record again (e.g. once a
    /// stop is asked for, so the caller gets control back).
    pub fn skipping(mut self, skip: impl Fn(&[u8]) -> bool + Send + 'static) -> Self {
        self.splitter.set_skip(split::Skip(Box::new(skip)));
        self
    }

    /// Records skipped so far (see [`Self::skipping`]).
    pub fn skipped(&self) -> u64 {
        self.splitter.skipped()
    }

    /// Decoded bytes split so far: after gunzip for a gzip input, as read otherwise. With
    /// the compressed size this tells how much text a reader went through, at no extra cost.
    pub fn bytes_split(&self) -> u64 {
        self.splitter.offset()
    }

    /// Whether the input is gzip.
    pub fn is_gzip(&self) -> bool {
        self.gzip.is_some()
    }

    fn input_error(&mut self, source: std::io::Error) -> InputError {
        self.done = true;
        let after = self.splitter.offset();
        let in_progress = match self.splitter.in_progress() {
            Some((line, offset)) => format!(
                " (the record starting at line {line}, byte {offset} is incomplete and lost)"
            ),
            None => String::new(),
        };
        match &self.gzip {
            Some(c) if source.get_ref().is_some_and(|e| e.is::<RatioExceeded>()) => {
                InputError::Bomb {
                    ratio: self.splitter.limits().max_gzip_ratio,
                    compressed: c.compressed.load(Ordering::Relaxed),
                    decompressed: c.decompressed.load(Ordering::Relaxed),
                }
            }
            Some(_) => InputError::Gzip {
                after,
                in_progress,
                source,
            },
            None => InputError::Read {
                after,
                in_progress,
                source,
            },
        }
    }
}

impl<R: BufRead> Iterator for Records<R> {
    type Item = Result<Item, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(Ok(item));
            }
            if self.done {
                return None;
            }
            if let Some(e) = self.failed.take() {
                return Some(Err(self.input_error(e)));
            }
            let buf = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Some(Err(self.input_error(e))),
            };
            if buf.is_empty() {
                self.done = true;
                self.splitter.finish(&mut self.pending);
                continue;
            }
            let used = self.splitter.feed(buf, &mut self.pending);
            self.inner.consume(used);
        }
    }
}

#[cfg(test)]
mod tests;
