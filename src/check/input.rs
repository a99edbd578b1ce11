//! Finding and reading the manifest files a `check` run was given.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::report::InputError;

/// One input: a file's display name and its text.
#[derive(Debug)]
pub struct Source {
    pub name: Arc<str>,
    pub text: String,
}

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Expands paths (files, directories recursively, `-` for stdin) into a sorted list of files.
/// Directories contribute only `.yaml`, `.yml` and `.json` files and skip hidden entries;
/// a file named explicitly is always read.
pub fn expand(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            files.push(path.clone());
        } else if path.is_dir() {
            walk(path, &mut files, errors);
        } else if path.exists() {
            files.push(path.clone());
        } else {
            errors.push(InputError {
                file: display(path),
                line: None,
                message: "no such file or directory".to_owned(),
            });
        }
    }
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, errors: &mut Vec<InputError>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(InputError {
                file: display(dir),
                line: None,
                message: format!("cannot read directory: {e}"),
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, files, errors);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        {
            files.push(path);
        }
    }
}

pub fn display(path: &Path) -> Arc<str> {
    Arc::from(path.to_string_lossy().as_ref())
}

/// Reads one input; `-` is standard input.
pub fn read(path: &Path) -> Result<Source, InputError> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        return std::io::stdin()
            .read_to_string(&mut text)
            .map(|_| Source {
                name: Arc::from("<stdin>"),
                text,
            })
            .map_err(|e| InputError {
                file: Arc::from("<stdin>"),
                line: None,
                message: format!("cannot read standard input: {e}"),
            });
    }
    std::fs::read_to_string(path)
        .map(|text| Source {
            name: display(path),
            text,
        })
        .map_err(|e| InputError {
            file: display(path),
            line: None,
            message: format!("cannot read file: {e}"),
        })
}
