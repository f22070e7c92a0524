//! The record splitter: a byte-driven state machine that finds record boundaries without
//! parsing (strings, escapes and nesting depth are tracked; JSON validity is left to the
//! normalizer). Inside a record, whole 64-byte blocks are classified at once ([`crate::scan`])
//! and only their brackets outside strings are visited; the machine sees every other byte.
//! Each byte is classified once, so splitting is linear in the input. A record is looked at
//! where it lies in the buffer being fed: only one that crosses buffers is gathered into the
//! splitter's own, and only one the filter keeps is copied out.

use std::collections::VecDeque;

use crate::{Item, Limits, Position, Record, Reject, Rejected};

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Between top-level values.
    Top,
    /// A top-level line that does not start an object or array: the rest of the line is one
    /// record (the normalizer says what is wrong with it).
    Junk,
    /// Inside a record that starts with `{` or `[` (or `"` as an array element).
    Rec,
    /// Inside a streamed array (top-level array or a container's `Records`), between elements.
    Between,
    /// An array element that is a bare scalar, until `,`, `]` or whitespace.
    Scalar,
    /// After a container's `Records` array: the rest of the object is skipped.
    Tail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Array {
    /// A top-level JSON array.
    Top,
    /// The `Records` / `records` array of a `{"Records":[…]}` document.
    Container,
}

impl Array {
    fn what(self) -> &'static str {
        match self {
            Array::Top => "a JSON array",
            Array::Container => "a `Records` array",
        }
    }
}

/// Recognition of `{ "Records" : [` at the start of a top-level object.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Prefix {
    Off,
    Brace,
    Key(Vec<u8>),
    AfterKey,
    Colon,
}

#[derive(Debug)]
pub(crate) struct Splitter {
    limits: Limits,
    mode: Mode,
    array: Option<Array>,
    /// Offset of the next byte.
    offset: u64,
    /// Line of the next byte.
    line: u64,
    /// The previous byte was a newline (or there was none).
    line_start: bool,
    index: usize,
    bom: usize,
    // The record being read.
    buf: Vec<u8>,
    start: u64,
    start_line: u64,
    size: u64,
    depth: usize,
    in_str: bool,
    esc: bool,
    oversize: bool,
    too_deep: bool,
    prefix: Prefix,
    /// Use [`Splitter::rec_run`] (off only in tests, to compare with the byte machine).
    fast: bool,
    /// Records the caller does not want (see [`crate::Records::skipping`]).
    skip: Option<Skip>,
    skipped: u64,
    /// `begin` ran on the byte being stepped: the record's bytes start there in the buffer
    /// being fed.
    began: bool,
}

/// A record filter on the record's raw bytes: true = skip the record (it is counted, not
/// handed out).
pub(crate) struct Skip(pub(crate) Box<SkipFn>);

/// What a [`Skip`] holds: given a record's raw bytes, whether to skip it.
pub(crate) type SkipFn = dyn Fn(&[u8]) -> bool + Send;

impl std::fmt::Debug for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Skip(..)")
    }
}

/// What one byte did.
enum Step {
    /// Consumed, nothing complete.
    Next,
    /// Consumed, and a record is complete.
    Done,
    /// A record is complete *before* this byte, which must be looked at again.
    DoneBefore,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

impl Splitter {
    pub(crate) fn new(limits: Limits) -> Self {
        Splitter {
            limits,
            mode: Mode::Top,
            array: None,
            offset: 0,
            line: 1,
            line_start: true,
            index: 0,
            bom: 0,
            buf: Vec::new(),
            start: 0,
            start_line: 1,
            size: 0,
            depth: 0,
            in_str: false,
            esc: false,
            oversize: false,
            too_deep: false,
            prefix: Prefix::Off,
            fast: true,
            skip: None,
            skipped: 0,
            began: false,
        }
    }

    /// Skips the records `skip` says to, without handing them out.
    pub(crate) fn set_skip(&mut self, skip: Skip) {
        self.skip = Some(skip);
    }

    /// Records skipped so far.
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Turns the run-based fast path off (tests compare both).
    #[cfg(test)]
    pub(crate) fn byte_by_byte(mut self) -> Self {
        self.fast = false;
        self
    }

    /// Consumes a run of a record's bytes without the per-byte machine: whole 64-byte blocks
    /// are classified at once ([`crate::scan`]) and only their structural bytes looked at;
    /// blocks the block scan does not settle (a backslash, a stop), and the tail shorter than a
    /// block, go through [`scalar_run`]. Stops *before* any byte the machine must see (a newline
    /// outside a string in a top-level record, a newline inside a string, a `{` that starts a
    /// line of a top-level record, nesting past the limit) and right *after* the byte that
    /// completes the record. Returns (bytes consumed, record complete).
    fn rec_run(&mut self, buf: &[u8]) -> (usize, bool) {
        let top = self.array.is_none();
        let max_depth = self.limits.max_depth;
        if top && self.line_start && !self.in_str && self.depth > 0 && buf.first() == Some(&b'{') {
            return (0, false);
        }
        let mut run = Run {
            depth: self.depth,
            in_str: self.in_str,
            esc: self.esc,
            lines: 0,
            last_newline: false,
        };
        let mut i = 0;
        let mut done = false;
        while i < buf.len() {
            let block = if run.depth > 0 && !run.esc {
                buf[i..].first_chunk::<64>()
            } else {
                None
            };
            let Some(block) = block else {
                // The tail, or a record that is a bare string (depth 0).
                let (n, d) = scalar_run(&buf[i..], &mut run, top, max_depth);
                i += n;
                done = d;
                break;
            };
            match block_run(block, &mut run, top, max_depth) {
                Block::Whole => i += 64,
                Block::Ends(n) => {
                    i += n;
                    done = true;
                    break;
                }
                Block::Unsettled => {
                    let (n, d) = scalar_run(block, &mut run, top, max_depth);
                    i += n;
                    if d || n < 64 {
                        done = d;
                        break;
                    }
                }
            }
        }
        if i > 0 {
            self.grow(i);
            self.offset += i as u64;
            self.line += run.lines;
            self.line_start = run.last_newline;
            self.depth = run.depth;
            self.in_str = run.in_str;
            self.esc = run.esc;
        }
        (i, done)
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Line and offset of a record being read, if any.
    pub(crate) fn in_progress(&self) -> Option<(u64, u64)> {
        match self.mode {
            Mode::Junk | Mode::Rec | Mode::Scalar => Some((self.start_line, self.start)),
            _ => None,
        }
    }

    /// Feeds bytes until at least one item is complete or `buf` is used up; returns how many
    /// bytes were consumed.
    ///
    /// A record's bytes are not copied as they are stepped over: a record that starts and
    /// ends inside `buf` is looked at in place (and, when the filter skips it, never copied);
    /// only a record still open when `buf` is used up has its bytes so far kept in `self.buf`.
    pub(crate) fn feed(&mut self, buf: &[u8], out: &mut VecDeque<Item>) -> usize {
        // Where, in `buf`, the bytes of the record in progress not yet kept start.
        let mut from = self.reading().then_some(0);
        let mut i = 0;
        while i < buf.len() {
            // Fast path: the body of a record, in runs (the byte-by-byte machine below handles
            // the rest: container prefixes, limits, cut records, line starts).
            if self.fast && self.mode == Mode::Rec && self.prefix == Prefix::Off && !self.too_deep {
                let (run, done) = self.rec_run(&buf[i..]);
                i += run;
                if done {
                    self.emit_into(tail(buf, from, i), out);
                    return i;
                }
                if run > 0 {
                    continue;
                }
            }
            let b = buf[i];
            let step = self.step(b);
            if std::mem::take(&mut self.began) {
                from = Some(i);
            } else if !self.reading() {
                // Between records, or a container's prefix was recognized (its bytes are
                // not a record).
                from = None;
            }
            match step {
                Step::Next => {
                    self.advance(b);
                    i += 1;
                }
                Step::Done => {
                    self.advance(b);
                    i += 1;
                    self.emit_into(tail(buf, from, i), out);
                    return i;
                }
                Step::DoneBefore => {
                    self.emit_into(tail(buf, from, i), out);
                    return i;
                }
            }
        }
        if self.reading() {
            self.keep(tail(buf, from, i));
        }
        i
    }

    /// Inside a record.
    fn reading(&self) -> bool {
        matches!(self.mode, Mode::Junk | Mode::Rec | Mode::Scalar)
    }

    /// End of input: the record in progress (cut short) and an unterminated container.
    pub(crate) fn finish(&mut self, out: &mut VecDeque<Item>) {
        if self.reading() {
            self.emit_into(&[], out);
        }
        if let Some(array) = self.array.take() {
            if self.mode != Mode::Tail {
                self.index += 1;
                out.push_back(Item::Rejected(Rejected {
                    position: Position {
                        index: self.index,
                        line: self.line,
                        offset: self.offset,
                    },
                    reason: Reject::Truncated(array.what()),
                }));
            }
        }
        self.mode = Mode::Top;
    }

    fn advance(&mut self, b: u8) {
        self.offset += 1;
        if b == b'\n' {
            self.line += 1;
            self.line_start = true;
        } else {
            self.line_start = false;
        }
    }

    fn begin(&mut self, mode: Mode) {
        self.mode = mode;
        self.buf.clear();
        self.start = self.offset;
        self.start_line = self.line;
        self.size = 0;
        self.depth = 0;
        self.in_str = false;
        self.esc = false;
        self.oversize = false;
        self.too_deep = false;
        self.prefix = Prefix::Off;
        self.began = true;
    }

    /// Counts `n` more bytes of the record in progress (they are kept later, by [`Self::keep`]
    /// or in place at the record's end).
    fn grow(&mut self, n: usize) {
        self.size += n as u64;
        if !self.oversize && self.size > self.limits.max_record_bytes as u64 {
            self.oversize = true;
            self.buf = Vec::new();
        }
    }

    /// Keeps bytes of the record in progress that are about to leave the buffer being fed
    /// (nothing once the record is over a limit: it is rejected, not handed out).
    fn keep(&mut self, bytes: &[u8]) {
        if !self.oversize && !self.too_deep {
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Emits the record in progress; a top-level object that holds a `Records` / `records`
    /// array under another key than the first (which is streamed) is expanded here, from the
    /// bounded text, with each element's own line and offset.
    fn emit_into(&mut self, tail: &[u8], out: &mut VecDeque<Item>) {
        let top_object = self.mode == Mode::Rec && self.array.is_none();
        let index = self.index;
        let Some(item) = self.emit(tail) else {
            return;
        };
        if let (true, Item::Record(r)) = (top_object, &item) {
            if let Some(elements) = embedded_records(&r.text) {
                let base = r.position;
                let mut line = base.line;
                let mut scanned = 0usize;
                let mut n = index;
                for at in elements {
                    line += r.text.as_bytes()[scanned..at.0]
                        .iter()
                        .filter(|&&c| c == b'\n')
                        .count() as u64;
                    scanned = at.0;
                    n += 1;
                    out.push_back(Item::Record(Record {
                        position: Position {
                            index: n,
                            line,
                            offset: base.offset + at.0 as u64,
                        },
                        text: at.1,
                    }));
                }
                self.index = n;
                return;
            }
        }
        out.push_back(item);
    }

    /// The record in progress, whose last bytes are `tail` (still in the buffer being fed),
    /// as an item; `None` when it is skipped.
    fn emit(&mut self, tail: &[u8]) -> Option<Item> {
        self.index += 1;
        let position = Position {
            index: self.index,
            line: self.start_line,
            offset: self.start,
        };
        let was = self.mode;
        self.mode = match (was, self.array) {
            (Mode::Tail, _) => Mode::Tail,
            (_, Some(_)) => Mode::Between,
            (_, None) => Mode::Top,
        };
        let reason = if self.too_deep {
            Some(Reject::TooDeep {
                limit: self.limits.max_depth,
            })
        } else if self.oversize {
            Some(Reject::TooLarge {
                limit: self.limits.max_record_bytes,
                size: self.size,
            })
        } else {
            None
        };
        if let Some(reason) = reason {
            self.buf = Vec::new();
            return Some(Item::Rejected(Rejected { position, reason }));
        }
        if !self.buf.is_empty() {
            self.keep(tail);
        }
        // In place when the whole record is in the buffer being fed (the usual case).
        let bytes: &[u8] = if self.buf.is_empty() { tail } else { &self.buf };
        if let Some(skip) = &self.skip {
            // A skipped record costs no copy and no allocation. A top-level object that
            // embeds a `Records` array is never skipped whole (its elements are records).
            let container = was == Mode::Rec
                && self.array.is_none()
                && (memchr::memmem::find(bytes, b"\"Records\"").is_some()
                    || memchr::memmem::find(bytes, b"\"records\"").is_some());
            if !container && (skip.0)(bytes) {
                self.buf.clear();
                self.skipped += 1;
                return None;
            }
        }
        let bytes = if self.buf.is_empty() {
            tail.to_vec()
        } else {
            // The next record that outgrows a buffer is likely about this one's size: one
            // allocation instead of a dozen doublings (capped, so one large record does not
            // pin memory).
            let hint = self.buf.len().min(64 * 1024);
            std::mem::replace(&mut self.buf, Vec::with_capacity(hint))
        };
        Some(match String::from_utf8(bytes) {
            Ok(text) => Item::Record(Record { position, text }),
            Err(e) => Item::Rejected(Rejected {
                position,
                reason: Reject::NotUtf8 {
                    at: self.start + e.utf8_error().valid_up_to() as u64,
                },
            }),
        })
    }

    fn step(&mut self, b: u8) -> Step {
        match self.mode {
            Mode::Top => {
                if self.bom < 3 && self.offset == self.bom as u64 && b == BOM[self.bom] {
                    self.bom += 1;
                    return Step::Next;
                }
                if self.bom > 0 && self.bom < 3 {
                    // A partial byte order mark: those bytes start a junk line.
                    let partial = self.bom;
                    self.bom = 3;
                    self.begin(Mode::Junk);
                    self.start -= partial as u64;
                    self.grow(partial);
                    self.keep(&BOM[..partial]);
                }
                self.bom = 3;
                if self.mode == Mode::Junk {
                    return self.step(b);
                }
                match b {
                    _ if is_ws(b) => Step::Next,
                    b'[' => {
                        self.array = Some(Array::Top);
                        self.mode = Mode::Between;
                        Step::Next
                    }
                    b'{' => {
                        self.begin(Mode::Rec);
                        self.prefix = Prefix::Brace;
                        self.rec_byte(b)
                    }
                    _ => {
                        self.begin(Mode::Junk);
                        self.step(b)
                    }
                }
            }
            Mode::Junk => {
                if b == b'\n' {
                    Step::DoneBefore
                } else {
                    self.grow(1);
                    Step::Next
                }
            }
            Mode::Between => match b {
                _ if is_ws(b) || b == b',' => Step::Next,
                b']' => {
                    match self.array {
                        Some(Array::Container) => {
                            self.mode = Mode::Tail;
                            self.depth = 1;
                            self.in_str = false;
                            self.esc = false;
                        }
                        _ => {
                            self.array = None;
                            self.mode = Mode::Top;
                        }
                    }
                    Step::Next
                }
                b'{' | b'[' | b'"' => {
                    self.begin(Mode::Rec);
                    self.rec_byte(b)
                }
                _ => {
                    self.begin(Mode::Scalar);
                    self.grow(1);
                    Step::Next
                }
            },
            Mode::Scalar => {
                if is_ws(b) || b == b',' || b == b']' {
                    Step::DoneBefore
                } else {
                    self.grow(1);
                    Step::Next
                }
            }
            Mode::Tail => {
                if self.in_str {
                    if self.esc {
                        self.esc = false;
                    } else if b == b'\\' {
                        self.esc = true;
                    } else if b == b'"' {
                        self.in_str = false;
                    }
                } else {
                    match b {
                        b'"' => self.in_str = true,
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' => {
                            self.depth = self.depth.saturating_sub(1);
                            if self.depth == 0 {
                                self.array = None;
                                self.mode = Mode::Top;
                            }
                        }
                        _ => {}
                    }
                }
                Step::Next
            }
            Mode::Rec => {
                if self.prefix != Prefix::Off && self.container_prefix(b) {
                    // `{"Records":[`: stream the elements instead.
                    self.buf = Vec::new();
                    self.array = Some(Array::Container);
                    self.mode = Mode::Between;
                    return Step::Next;
                }
                // A top-level record cut short: the next line starts a new one.
                if self.array.is_none()
                    && self.line_start
                    && b == b'{'
                    && !self.in_str
                    && self.depth > 0
                {
                    return Step::DoneBefore;
                }
                self.rec_byte(b)
            }
        }
    }

    /// Advances the `{"Records":[` recognizer; true when it completes on `b`.
    fn container_prefix(&mut self, b: u8) -> bool {
        let next = match std::mem::replace(&mut self.prefix, Prefix::Off) {
            Prefix::Off => Prefix::Off,
            Prefix::Brace if is_ws(b) => Prefix::Brace,
            Prefix::Brace if b == b'"' => Prefix::Key(Vec::new()),
            Prefix::Brace => Prefix::Off,
            Prefix::Key(k) if b == b'"' => {
                if k == b"Records" || k == b"records" {
                    Prefix::AfterKey
                } else {
                    Prefix::Off
                }
            }
            Prefix::Key(mut k) if b != b'\\' && k.len() < 8 => {
                k.push(b);
                Prefix::Key(k)
            }
            Prefix::Key(_) => Prefix::Off,
            Prefix::AfterKey if is_ws(b) => Prefix::AfterKey,
            Prefix::AfterKey if b == b':' => Prefix::Colon,
            Prefix::AfterKey => Prefix::Off,
            Prefix::Colon if is_ws(b) => Prefix::Colon,
            Prefix::Colon if b == b'[' => return true,
            Prefix::Colon => Prefix::Off,
        };
        self.prefix = next;
        false
    }

    /// One byte of a record: string state, depth, the record's end.
    fn rec_byte(&mut self, b: u8) -> Step {
        if self.in_str {
            if b == b'\n' {
                // A raw newline cannot be inside a JSON string: the record was cut short.
                return Step::DoneBefore;
            }
            self.grow(1);
            if self.esc {
                self.esc = false;
            } else if b == b'\\' {
                self.esc = true;
            } else if b == b'"' {
                self.in_str = false;
                if self.depth == 0 {
                    return Step::Done;
                }
            }
            return Step::Next;
        }
        self.grow(1);
        match b {
            b'"' => self.in_str = true,
            b'{' | b'[' => {
                self.depth += 1;
                if self.depth > self.limits.max_depth && !self.too_deep {
                    self.too_deep = true;
                    self.buf = Vec::new();
                }
            }
            b'}' | b']' => {
                self.depth = self.depth.saturating_sub(1);
                if self.depth == 0 {
                    return Step::Done;
                }
            }
            _ => {}
        }
        Step::Next
    }
}

/// The bytes of the record in progress still in `buf`: from `from` (where it started, or the
/// start of `buf`) to `end`.
fn tail(buf: &[u8], from: Option<usize>, end: usize) -> &[u8] {
    from.and_then(|f| buf.get(f..end)).unwrap_or_default()
}

/// The elements of a `Records` / `records` array in an object, as (byte offset in `text`,
/// text), when the object has one; `None` otherwise (or when it is not valid JSON: the
/// normalizer reports that).
fn embedded_records(text: &str) -> Option<Vec<(usize, String)>> {
    use serde_json::value::RawValue;
    if !(text.contains("\"Records\"") || text.contains("\"records\"")) {
        return None;
    }
    #[derive(serde::Deserialize)]
    struct Container<'a> {
        #[serde(rename = "Records", borrow, default)]
        upper: Option<Vec<&'a RawValue>>,
        #[serde(rename = "records", borrow, default)]
        lower: Option<Vec<&'a RawValue>>,
    }
    let c: Container<'_> = serde_json::from_str(text).ok()?;
    let items = c.upper.or(c.lower)?;
    let base = text.as_ptr() as usize;
    Some(
        items
            .into_iter()
            .map(|v| (v.get().as_ptr() as usize - base, v.get().to_string()))
            .collect(),
    )
}

/// The splitter's state through a run of record bytes.
struct Run {
    depth: usize,
    in_str: bool,
    esc: bool,
    /// Newlines consumed (outside strings, in a record inside an array).
    lines: u64,
    /// The last byte consumed was a newline.
    last_newline: bool,
}

/// What the block scan made of a block.
enum Block {
    /// All 64 bytes consumed, the record goes on.
    Whole,
    /// The record ends inside the block: this many bytes consumed.
    Ends(usize),
    /// Nothing consumed: a backslash or a stop the scalar run must see.
    Unsettled,
}

/// One 64-byte block of a record at depth ≥ 1, not after a backslash: settles it when it holds
/// no backslash and nothing the machine must stop before (then `run` is updated), else leaves
/// `run` alone and says so.
fn block_run(block: &[u8; 64], run: &mut Run, top: bool, max_depth: usize) -> Block {
    let m = crate::scan::classify(block);
    if m.backslash != 0 {
        return Block::Unsettled;
    }
    let flips = crate::scan::prefix_xor(m.quote);
    let inside = if run.in_str { !flips } else { flips };
    // A newline inside a string cuts the record; in a top-level record any newline outside a
    // string is the machine's to see.
    let stops = if top { m.newline } else { m.newline & inside };
    let mut structural = (m.open | m.close) & !inside;
    let mut depth = run.depth;
    while structural != 0 {
        let at = structural.trailing_zeros();
        let bit = 1u64 << at;
        if m.open & bit != 0 {
            if depth + 1 > max_depth {
                return Block::Unsettled;
            }
            depth += 1;
        } else {
            depth -= 1;
            if depth == 0 {
                let through = bit | (bit - 1);
                if stops & through != 0 {
                    return Block::Unsettled;
                }
                run.lines += u64::from((m.newline & through).count_ones());
                run.depth = 0;
                run.in_str = false;
                run.last_newline = false;
                return Block::Ends(at as usize + 1);
            }
        }
        structural &= structural - 1;
    }
    if stops != 0 {
        return Block::Unsettled;
    }
    run.depth = depth;
    run.in_str = inside >> 63 == 1;
    // Most blocks have no newline (an AWS-written trail file is one line); skip the count,
    // a software popcount on the x86-64 baseline.
    if m.newline != 0 {
        run.lines += u64::from(m.newline.count_ones());
    }
    run.last_newline = block[63] == b'\n';
    Block::Whole
}

/// The byte-level run: string interiors skipped with `memchr3`, structure outside strings
/// tracks the depth. Same stops as [`Splitter::rec_run`]; returns (bytes consumed, record
/// complete) and updates `run`.
fn scalar_run(buf: &[u8], run: &mut Run, top: bool, max_depth: usize) -> (usize, bool) {
    let (mut depth, mut in_str, mut esc) = (run.depth, run.in_str, run.esc);
    let mut lines = 0u64;
    let mut last_newline = run.last_newline;
    let mut done = false;
    let mut i = 0;
    while i < buf.len() {
        if in_str {
            if esc {
                if buf[i] == b'\n' {
                    break;
                }
                esc = false;
                i += 1;
                last_newline = false;
                continue;
            }
            match memchr::memchr3(b'"', b'\\', b'\n', &buf[i..]) {
                None => {
                    i = buf.len();
                    last_newline = false;
                    break;
                }
                Some(k) => {
                    i += k;
                    last_newline = false;
                    match buf[i] {
                        b'"' => {
                            in_str = false;
                            i += 1;
                            if depth == 0 {
                                done = true;
                                break;
                            }
                        }
                        b'\\' => {
                            esc = true;
                            i += 1;
                        }
                        // A newline in a string: the machine ends the cut record.
                        _ => break,
                    }
                }
            }
            continue;
        }
        let b = buf[i];
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                if depth + 1 > max_depth {
                    break;
                }
                depth += 1;
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    i += 1;
                    last_newline = false;
                    done = true;
                    break;
                }
            }
            b'\n' => {
                if top {
                    break;
                }
                lines += 1;
                last_newline = true;
                i += 1;
                continue;
            }
            _ => {}
        }
        last_newline = false;
        i += 1;
    }
    run.depth = depth;
    run.in_str = in_str;
    run.esc = esc;
    run.lines += lines;
    run.last_newline = last_newline;
    (i, done)
}
