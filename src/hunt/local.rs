//! Local files and directories, walked with the archive-layout planner.

use std::io::Read;
use std::path::{Path, PathBuf};

use cadet_ingest::layout::Filter;

use super::{assign, walk_plan, Listing, Object, Page, Store};

/// Reads local files (keys are paths).
#[derive(Debug)]
pub(crate) struct Local;

impl Store for Local {
    fn display(&self, key: &str) -> String {
        key.to_string()
    }

    fn open(&self, key: &str) -> Result<Box<dyn Read + Send>, String> {
        // Only regular files are listed (FIFOs, sockets and devices are refused there, as
        // `detect` refuses them: a read from them may never end).
        std::fs::File::open(key)
            .map(|f| Box::new(f) as Box<dyn Read + Send>)
            .map_err(|e| e.to_string())
    }
}

/// A source that could not be listed (keeps store indices aligned).
#[derive(Debug)]
pub(crate) struct Missing;

impl Store for Missing {
    fn display(&self, key: &str) -> String {
        key.to_string()
    }

    fn open(&self, _: &str) -> Result<Box<dyn Read + Send>, String> {
        Err("the source could not be listed".into())
    }
}

/// Lists a local file (always read) or directory (walked with pruning).
pub(crate) fn list(source: &str, filter: &Filter, index: usize) -> (Box<dyn Store>, Listing) {
    let mut listing = Listing::default();
    let path = Path::new(source);
    match std::fs::metadata(path) {
        Err(e) => listing.errors.push(format!("{source}: cannot read: {e}")),
        Ok(m) if !m.is_dir() && !m.is_file() => listing.errors.push(format!(
            "{source}: cannot read: not a regular file: refused, since reading it may never end"
        )),
        Ok(m) if !m.is_dir() => listing.objects.push(Object {
            store: index,
            key: source.to_string(),
            size: m.len(),
        }),
        Ok(_) => {
            let base = if source.ends_with('/') {
                source.to_string()
            } else {
                format!("{source}/")
            };
            walk_plan(&base, filter, list_dir, &mut listing);
            assign(&mut listing, index);
        }
    }
    (Box::new(Local), listing)
}

/// One directory level (`delimited`) or everything below it. Hidden entries are skipped and
/// symbolic links to directories are not followed, as in `detect`. A prefix that does not
/// exist (a day the planner asked for that has no folder) is empty.
fn list_dir(prefix: &str, delimited: bool) -> Result<Page, String> {
    let mut page = Page::default();
    let mut stack = vec![PathBuf::from(prefix)];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                page.errors
                    .push(format!("{}: cannot read: {e}", dir.display()));
                continue;
            }
        };
        let mut here = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) if e.file_name().to_string_lossy().starts_with('.') => {}
                Ok(e) => here.push(e),
                Err(e) => page
                    .errors
                    .push(format!("{}: cannot read: {e}", dir.display())),
            }
        }
        here.sort_by_key(|e| e.file_name());
        for entry in here {
            let path = entry.path();
            let Some(text) = path.to_str().map(str::to_string) else {
                page.errors.push(format!(
                    "{}: cannot read: the file name is not UTF-8",
                    path.display()
                ));
                continue;
            };
            let ty = match entry.file_type() {
                Ok(t) => t,
                Err(e) => {
                    page.errors.push(format!("{text}: cannot read: {e}"));
                    continue;
                }
            };
            if ty.is_dir() {
                if delimited {
                    page.dirs.push(format!("{text}/"));
                } else {
                    stack.push(path);
                }
                continue;
            }
            // Follows a symbolic link to a file; refuses FIFOs, sockets and devices.
            match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => page.keys.push((text, m.len())),
                Ok(m) if m.is_dir() => {} // a link to a directory: not followed
                Ok(_) => {
                    if cadet_ingest::layout::is_event_file(&text) {
                        page.errors.push(format!(
                            "{text}: cannot read: not a regular file: refused, since reading it may never end"
                        ));
                    }
                }
                Err(e) => page.errors.push(format!("{text}: cannot read: {e}")),
            }
        }
    }
    page.keys.sort();
    Ok(page)
}
