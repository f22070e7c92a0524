//! Parquet files (Amazon Security Lake) read as records.
//!
//! A Security Lake object is a Parquet file of OCSF rows. Each row becomes one JSON record
//! holding the row's columns the normalizer reads ([`READ_COLUMNS`]; a file with none of them
//! is read whole), and goes through the normalizer like any other record ([`cadet_core::normalize()`] recognises OCSF API Activity from CloudTrail and
//! reads it as the CloudTrail record it was mapped from).
//!
//! Parquet is read row group by row group: a damaged row group loses its own rows, is named
//! in the error, and the next one is read. Under a time window, a row group whose `time`
//! statistics put every row outside it is not read at all ([`Rows::window`]). The file is held in memory while it is read
//! (Parquet keeps its index at the end), up to [`MAX_PARQUET_BYTES`]; Security Lake writes
//! objects far smaller than that. Compression: Snappy, gzip and Zstandard (what lakes write);
//! LZ4 and Brotli row groups are reported as unreadable.

use std::io::Read;

use bytes::Bytes;
use jiff::Timestamp;
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::serialized_reader::ReadOptionsBuilder;
use parquet::file::statistics::Statistics;
use parquet::record::reader::RowIter;
use parquet::record::{Field, Row};
use serde_json::{Map, Number, Value};

/// The top-level OCSF fields read from a row: what [`cadet_core::normalize()`] needs to know a
/// lake row and rebuild its CloudTrail record (`class_uid`, `time`, `metadata`, `api`,
/// `actor`, `src_endpoint`, `http_request`, `cloud`, `unmapped`).
const READ_COLUMNS: [&str; 10] = [
    "class_uid",
    "time",
    "time_dt",
    "metadata",
    "api",
    "actor",
    "src_endpoint",
    "http_request",
    "cloud",
    "unmapped",
];

/// The largest Parquet object read (held in memory while its rows are read).
pub(crate) const MAX_PARQUET_BYTES: u64 = 512 * 1024 * 1024;

/// Whether an object is read as Parquet: by its name (`….parquet`, as Security Lake and
/// every lake writer name them, e.g. `….gz.parquet`, `….zstd.parquet`).
pub(crate) fn is_parquet(key: &str) -> bool {
    key.len() >= 8 && key[key.len() - 8..].eq_ignore_ascii_case(".parquet")
}

/// One row (its 1-based number in the file and its JSON text), or why rows were lost.
pub(crate) type RowResult = Result<(usize, String), String>;

/// The rows of one Parquet file, row group by row group.
pub(crate) struct Rows {
    data: Bytes,
    /// Rows in each row group.
    group_rows: Vec<usize>,
    next_group: usize,
    rows: Option<RowIter<'static>>,
    /// The number of the last row handed out.
    row: usize,
    /// Names first: rows whose operation names no known operation are skipped unread.
    names_first: bool,
    /// Rows skipped so.
    skipped: u64,
    /// Each row group's first and last `time` (epoch milliseconds) by its column statistics,
    /// when the writer kept them and no row lacks a time.
    group_times: Vec<Option<(i64, i64)>>,
    /// The hunt's window in epoch milliseconds: row groups wholly outside it are not read.
    window: Option<(i64, i64)>,
    /// Rows of the row groups so skipped.
    pruned: u64,
    /// Bytes of the row groups' columns uncompressed, as the file's metadata states them.
    uncompressed: u64,
}

impl Rows {
    /// Reads `reader` to its end (at most [`MAX_PARQUET_BYTES`]) and opens it as Parquet.
    pub(crate) fn open(reader: impl Read) -> Result<Rows, String> {
        let mut buf = Vec::new();
        let n = reader
            .take(MAX_PARQUET_BYTES + 1)
            .read_to_end(&mut buf)
            .map_err(|e| e.to_string())?;
        if n as u64 > MAX_PARQUET_BYTES {
            return Err(format!(
                "Parquet object larger than {} MiB: not read (a lake writes far smaller objects)",
                MAX_PARQUET_BYTES >> 20
            ));
        }
        Rows::from_bytes(Bytes::from(buf))
    }

    fn from_bytes(data: Bytes) -> Result<Rows, String> {
        let file = SerializedFileReader::new(data.clone())
            .map_err(|e| format!("not a readable Parquet file: {e}"))?;
        let groups = file.metadata().row_groups();
        let group_rows = groups
            .iter()
            .map(|g| usize::try_from(g.num_rows()).unwrap_or(0))
            .collect();
        let group_times = groups.iter().map(time_range).collect();
        let uncompressed = groups
            .iter()
            .map(|g| u64::try_from(g.total_byte_size()).unwrap_or(0))
            .sum();
        Ok(Rows {
            data,
            group_rows,
            next_group: 0,
            rows: None,
            row: 0,
            names_first: false,
            skipped: 0,
            group_times,
            window: None,
            pruned: 0,
            uncompressed,
        })
    }

    /// Only rows in `since..=until` are wanted: a row group whose `time` statistics put all
    /// of its rows outside is not read ([`Rows::pruned`]). A row group without statistics, or
    /// with a row lacking `time`, is read and its rows judged one by one downstream.
    pub(crate) fn window(mut self, since: Option<Timestamp>, until: Option<Timestamp>) -> Rows {
        self.window = (since.is_some() || until.is_some()).then(|| {
            (
                since.map_or(i64::MIN, |t| t.as_millisecond()),
                until.map_or(i64::MAX, |t| t.as_millisecond()),
            )
        });
        self
    }

    /// Rows in row groups skipped by [`Rows::window`].
    pub(crate) fn pruned(&self) -> u64 {
        self.pruned
    }

    /// The bytes of the file's columns uncompressed, as its metadata states them.
    pub(crate) fn uncompressed_bytes(&self) -> u64 {
        self.uncompressed
    }

    /// Whether row group `g` lies wholly outside [`Rows::window`].
    fn outside(&self, g: usize) -> bool {
        match (self.window, self.group_times.get(g).copied().flatten()) {
            (Some((since, until)), Some((first, last))) => last < since || first > until,
            _ => false,
        }
    }

    /// Names first (as `hunt` reads JSON): a CloudTrail row whose `api.service.name` is an AWS
    /// service and whose `api.operation` is in none of cadet's tables is counted
    /// ([`Rows::skipped`]) and not turned into a record.
    pub(crate) fn names_first(mut self, on: bool) -> Rows {
        self.names_first = on;
        self
    }

    /// Rows skipped by [`Rows::names_first`].
    pub(crate) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// The rows of row group `g` alone (a reader whose only row group is `g`).
    fn group(&self, g: usize) -> Result<RowIter<'static>, String> {
        let options = ReadOptionsBuilder::new()
            .with_predicate(Box::new(move |_, i| i == g))
            .build();
        let file = SerializedFileReader::new_with_options(self.data.clone(), options)
            .map_err(|e| e.to_string())?;
        // Only the columns the normalizer reads are decoded: a lake row also carries
        // observables, resources, enrichments and more, which cost time and say nothing here.
        let root = file.metadata().file_metadata().schema();
        let kept: Vec<_> = root
            .get_fields()
            .iter()
            .filter(|f| READ_COLUMNS.contains(&f.name()))
            .cloned()
            .collect();
        // A file with none of them (not OCSF) is read whole.
        let projection = (!kept.is_empty() && kept.len() < root.get_fields().len())
            .then(|| {
                parquet::schema::types::Type::group_type_builder(root.name())
                    .with_fields(kept)
                    .build()
            })
            .transpose()
            .map_err(|e| e.to_string())?;
        RowIter::from_file_into(Box::new(file))
            .project(projection)
            .map_err(|e| e.to_string())
    }
}

impl Iterator for Rows {
    type Item = RowResult;

    fn next(&mut self) -> Option<RowResult> {
        loop {
            if let Some(rows) = self.rows.as_mut() {
                match rows.next() {
                    Some(Ok(row)) => {
                        self.row += 1;
                        if self.names_first && skippable(&row) {
                            self.skipped += 1;
                            continue;
                        }
                        return Some(Ok((self.row, row_json(&row).to_string())));
                    }
                    Some(Err(e)) => {
                        self.rows = None;
                        let g = self.next_group - 1;
                        return Some(Err(format!(
                            "row group {} (rows {}–{}): {e}; its remaining rows are lost",
                            g + 1,
                            self.row + 1,
                            self.first_row(g + 1) - 1,
                        )));
                    }
                    None => self.rows = None,
                }
            }
            let g = self.next_group;
            if g >= self.group_rows.len() {
                return None;
            }
            self.next_group += 1;
            self.row = self.first_row(g) - 1;
            if self.outside(g) {
                self.pruned += self.group_rows[g] as u64;
                continue;
            }
            match self.group(g) {
                Ok(rows) => self.rows = Some(rows),
                Err(e) => {
                    return Some(Err(format!(
                        "row group {} (rows {}–{}): {e}; its rows are lost",
                        g + 1,
                        self.first_row(g),
                        self.first_row(g + 1) - 1
                    )))
                }
            }
        }
    }
}

impl Rows {
    /// The 1-based number of row group `g`'s first row.
    fn first_row(&self, g: usize) -> usize {
        self.group_rows[..g.min(self.group_rows.len())]
            .iter()
            .sum::<usize>()
            + 1
    }
}

/// A row group's first and last `time` in epoch milliseconds, from the statistics of its
/// top-level `time` column (OCSF's event time: a plain 64-bit integer of milliseconds, or a
/// Parquet timestamp of any unit). `None` when there are no statistics, when a row lacks a
/// time, or when the column is not a 64-bit integer.
fn time_range(g: &RowGroupMetaData) -> Option<(i64, i64)> {
    let col = g
        .columns()
        .iter()
        .find(|c| c.column_path().parts() == ["time"])?;
    let Some(Statistics::Int64(st)) = col.statistics() else {
        return None;
    };
    if st.null_count_opt() != Some(0) {
        return None;
    }
    let (min, max) = (*st.min_opt()?, *st.max_opt()?);
    let to_ms: fn(i64) -> i64 = match col.column_descr().logical_type_ref() {
        None => |v| v,
        Some(LogicalType::Timestamp(t)) => match t.unit {
            TimeUnit::MILLIS => |v| v,
            TimeUnit::MICROS => |v| v.div_euclid(1_000),
            TimeUnit::NANOS => |v| v.div_euclid(1_000_000),
        },
        Some(LogicalType::Integer(i)) if i.bit_width == 64 => |v| v,
        Some(_) => return None,
    };
    Some((to_ms(min), to_ms(max)))
}

/// A field of a row's group, by name.
fn group_field<'a>(row: &'a Row, name: &str) -> Option<&'a Field> {
    row.get_column_iter()
        .find(|(n, _)| n.as_str() == name)
        .map(|(_, f)| f)
}

fn group<'a>(row: &'a Row, name: &str) -> Option<&'a Row> {
    match group_field(row, name)? {
        Field::Group(r) => Some(r),
        _ => None,
    }
}

fn text<'a>(row: &'a Row, name: &str) -> Option<&'a str> {
    match group_field(row, name)? {
        Field::Str(s) => Some(s),
        _ => None,
    }
}

/// The CloudTrail rule of `hunt`'s names-first pre-filter, on a row: an AWS service's call
/// whose operation is in none of cadet's tables. Anything else (another class, another
/// product, a missing name) is kept for the normalizer.
fn skippable(row: &Row) -> bool {
    let Some(api) = group(row, "api") else {
        return false;
    };
    let (Some(service), Some(operation)) = (
        group(api, "service").and_then(|s| text(s, "name")),
        text(api, "operation"),
    ) else {
        return false;
    };
    service.ends_with(".amazonaws.com")
        && !cadet_core::operations::AWS_OPERATIONS
            .iter()
            .any(|op| op.event_name == operation)
}

/// A row as a JSON object: nested groups, lists and maps as JSON; timestamps as epoch
/// milliseconds (as OCSF writes `time`); byte arrays as text when they are UTF-8.
fn row_json(row: &Row) -> Value {
    let mut m = Map::new();
    for (name, field) in row.get_column_iter() {
        m.insert(name.clone(), field_json(field));
    }
    Value::Object(m)
}

fn field_json(f: &Field) -> Value {
    match f {
        Field::Group(r) => row_json(r),
        Field::ListInternal(l) => Value::Array(l.elements().iter().map(field_json).collect()),
        Field::MapInternal(m) => {
            let mut out = Map::new();
            for (k, v) in m.entries() {
                let key = match k {
                    Field::Str(s) => s.clone(),
                    other => other.to_string(),
                };
                out.insert(key, field_json(v));
            }
            Value::Object(out)
        }
        Field::TimestampMillis(ms) => Value::Number(Number::from(*ms)),
        Field::TimestampMicros(us) => Value::Number(Number::from(us.div_euclid(1000))),
        Field::Bytes(b) => match std::str::from_utf8(b.data()) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => f.to_json_value(),
        },
        other => other.to_json_value(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_garbage() {
        assert!(is_parquet("a/b/c.gz.parquet"));
        assert!(is_parquet("X.PARQUET"));
        assert!(!is_parquet("x.json.gz"));
        assert!(!is_parquet("parquet"));
        let e = Rows::open(&b"PAR1 not really"[..])
            .err()
            .unwrap_or_default();
        assert!(e.contains("not a readable Parquet file"), "{e}");
    }
}
