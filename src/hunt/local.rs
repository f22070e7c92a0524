//! Local files and directories, walked with the archive-layout planner.

use std::io::Read;
use std::path::Path;

use cadet_ingest::layout::Filter;

use super::{walk_plan, Listed, Object, Page, Store};

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

    fn list(
        &self,
        prefix: &str,
        delimited: bool,
        page: &mut dyn FnMut(Page) -> bool,
    ) -> Result<(), String> {
        list_dir(prefix, delimited, page)
    }
}

/// Walks a local file (always read) or directory (with pruning).
pub(crate) fn walk(source: &str, filter: &Filter, emit: &mut dyn FnMut(Listed) -> bool) {
    let path = Path::new(source);
    match std::fs::metadata(path) {
        Err(e) => {
            emit(Listed::Error(format!("{source}: cannot read: {e}")));
        }
        Ok(m) if !m.is_dir() && !m.is_file() => {
            emit(Listed::Error(format!(
                "{source}: cannot read: not a regular file: refused, since reading it may never end"
            )));
        }
        Ok(m) if !m.is_dir() => {
            emit(Listed::Object(Object {
                key: source.to_string(),
                size: m.len(),
            }));
        }
        Ok(_) => {
            let base = if source.ends_with('/') {
                source.to_string()
            } else {
                format!("{source}/")
            };
            walk_plan(&base, filter, &list_dir, emit);
        }
    }
}

/// Keys handed out per page when listing a whole tree.
const PAGE_KEYS: usize = 1000;

/// One directory level (`delimited`) or everything below it, in path order, a page of at most
/// [`PAGE_KEYS`] keys at a time. Hidden entries are skipped and symbolic links to directories
/// are not followed, as in `detect`. A prefix that does not exist (a day the planner asked for
/// that has no folder) is empty.
fn list_dir(
    prefix: &str,
    delimited: bool,
    on_page: &mut dyn FnMut(Page) -> bool,
) -> Result<(), String> {
    let mut page = Page::default();
    if visit(Path::new(prefix), delimited, &mut page, on_page)
        && !(page.keys.is_empty() && page.dirs.is_empty() && page.errors.is_empty())
    {
        on_page(page);
    }
    Ok(())
}

/// Lists `dir` into `page`: its files, and its folders as `dirs` (`delimited`) or visited in
/// place, so that keys come out in the order of their whole paths (a folder sorts as its name
/// and a `/`). False when `on_page` asked to stop.
fn visit(
    dir: &Path,
    delimited: bool,
    page: &mut Page,
    on_page: &mut dyn FnMut(Page) -> bool,
) -> bool {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return true,
        Err(e) => {
            page.errors
                .push(format!("{}: cannot read: {e}", dir.display()));
            return true;
        }
    };
    let mut here = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) if e.file_name().to_string_lossy().starts_with('.') => {}
            Ok(e) => {
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                let mut sort = e.file_name().to_string_lossy().into_owned();
                if is_dir {
                    sort.push('/');
                }
                here.push((sort, is_dir, e));
            }
            Err(e) => page
                .errors
                .push(format!("{}: cannot read: {e}", dir.display())),
        }
    }
    here.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, is_dir, entry) in here {
        let path = entry.path();
        let Some(text) = path.to_str().map(str::to_string) else {
            page.errors.push(format!(
                "{}: cannot read: the file name is not UTF-8",
                path.display()
            ));
            continue;
        };
        if is_dir {
            if delimited {
                page.dirs.push(format!("{text}/"));
            } else if !visit(&path, false, page, on_page) {
                return false;
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
        if page.keys.len() >= PAGE_KEYS && !on_page(std::mem::take(page)) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A whole tree comes out in pages of at most PAGE_KEYS keys, in the order of the whole
    /// paths (as a sorted listing would give them), and the walk stops when asked.
    #[test]
    fn lists_a_tree_in_bounded_pages_in_path_order() {
        let tmp = tempfile::Builder::new()
            .prefix("cadet-list-")
            .tempdir()
            .unwrap_or_else(|e| panic!("{e}"));
        let root = tmp.path();
        let mut want = Vec::new();
        for (dir, n) in [("a", 1200), ("b", 5), ("b.d", 3), ("c/d", 900)] {
            let d = root.join(dir);
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
            for i in 0..n {
                let p = d.join(format!("{i:05}.json.gz"));
                std::fs::write(&p, b"x").unwrap_or_else(|e| panic!("{e}"));
                want.push(p.display().to_string());
            }
        }
        // A file beside a folder of the same stem: `b.json` sorts before `b/…`.
        let beside = root.join("b.json");
        std::fs::write(&beside, b"x").unwrap_or_else(|e| panic!("{e}"));
        want.push(beside.display().to_string());
        std::fs::write(root.join(".hidden"), b"x").unwrap_or_else(|e| panic!("{e}"));
        want.sort();

        let prefix = format!("{}/", root.display());
        let mut pages = Vec::new();
        list_dir(&prefix, false, &mut |p| {
            pages.push(p);
            true
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(pages.iter().all(|p| p.keys.len() <= PAGE_KEYS));
        assert!(pages.len() >= 3);
        let got: Vec<String> = pages
            .iter()
            .flat_map(|p| p.keys.iter().map(|(k, _)| k.clone()))
            .collect();
        assert_eq!(got, want);

        let mut first = 0;
        list_dir(&prefix, false, &mut |p| {
            first += p.keys.len();
            false
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, PAGE_KEYS);
    }
}
