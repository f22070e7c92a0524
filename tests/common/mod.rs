//! Helpers shared by the integration tests (each test file that needs one says `mod common;`).
#![allow(dead_code)]

use std::ffi::OsStr;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A folder under the system temporary folder, removed with everything in it when dropped,
/// also when the test fails. Reads as a `Path`.
#[derive(Debug)]
pub struct Tmp(tempfile::TempDir);

impl Tmp {
    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn to_path_buf(&self) -> PathBuf {
        self.0.path().to_path_buf()
    }
}

impl Deref for Tmp {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Tmp {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<OsStr> for Tmp {
    fn as_ref(&self) -> &OsStr {
        self.0.path().as_os_str()
    }
}

/// A new empty temporary folder named `cadet-PREFIX-…`.
pub fn tmp(prefix: &str) -> Tmp {
    Tmp(tempfile::Builder::new()
        .prefix(&format!("cadet-{prefix}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary folder: {e}")))
}
