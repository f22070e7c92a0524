//! Input sources: stdin, files, directory walks; opening them without blocking on special files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::{BoxedRead, InputError, Limits, Records};

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

/// A path that could not be expanded (missing, or a directory entry that cannot be read).
#[derive(Debug)]
pub struct WalkError {
    /// The path, as given or as met in the walk.
    pub path: String,
    /// Why.
    pub error: std::io::Error,
}

/// File names a directory walk picks up (files named explicitly are always read).
fn is_event_file(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    crate::layout::is_event_file(name)
}

/// Expands command-line paths into sources, in order: `-` is stdin, directories are walked
/// recursively in sorted order (hidden entries skipped, symbolic links to directories not
/// followed). A path that does not exist, a directory that cannot be listed, or an entry whose
/// type cannot be read is returned as a [`WalkError`] in its place, and everything else still
/// expands.
pub fn expand(paths: &[String]) -> Vec<Result<Source, WalkError>> {
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
                let mut found = Vec::new();
                walk(&path, &mut found);
                found.sort_by(|a, b| a.0.cmp(&b.0));
                out.extend(found.into_iter().map(|(path, r)| match r {
                    Ok(()) => Ok(Source::File(path)),
                    Err(error) => Err(WalkError {
                        path: path.display().to_string(),
                        error,
                    }),
                }));
            }
            Ok(_) => out.push(Ok(Source::File(path))),
            Err(error) => out.push(Err(WalkError {
                path: p.clone(),
                error,
            })),
        }
    }
    out
}

type Found = Vec<(PathBuf, std::io::Result<()>)>;

fn walk(dir: &Path, found: &mut Found) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            found.push((dir.to_path_buf(), Err(e)));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                found.push((dir.to_path_buf(), Err(e)));
                continue;
            }
        };
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        match entry.file_type() {
            Ok(ty) if ty.is_dir() => walk(&path, found),
            Ok(_) => {
                if is_event_file(&path) {
                    found.push((path, Ok(())));
                }
            }
            Err(e) => found.push((path, Err(e))),
        }
    }
}

/// What kind of special file a non-regular file is.
fn kind(ty: std::fs::FileType) -> &'static str {
    if ty.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ty.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ty.is_socket() {
            return "a socket";
        }
        if ty.is_char_device() {
            return "a character device";
        }
        if ty.is_block_device() {
            return "a block device";
        }
    }
    "a special file"
}

/// Opens a file for reading without blocking: on Unix with `O_NONBLOCK`, so that opening a FIFO
/// with no writer returns at once, then refuses anything but a regular file (checked on the
/// opened file, so the check and the read see the same file).
fn open_file(path: &Path) -> Result<File, InputError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(InputError::Open)?;
    let meta = file.metadata().map_err(InputError::Open)?;
    if !meta.is_file() {
        return Err(InputError::NotRegular(kind(meta.file_type())));
    }
    Ok(file)
}

/// Opens a source as a stream of records.
pub fn open(source: &Source, limits: Limits) -> Result<Records<BoxedRead>, InputError> {
    let reader: Box<dyn Read + Send> = match source {
        Source::Stdin => Box::new(std::io::stdin()),
        Source::File(p) => Box::new(open_file(p)?),
    };
    Ok(Records::new(reader, limits))
}
