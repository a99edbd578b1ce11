//! Finding and reading the manifest files a `check` run was given, safely: every file and
//! directory is visited once (symlink loops included), only regular files are read from
//! directories, and no file is read past the size limit.

use std::collections::HashSet;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::report::InputError;
use crate::output::escape_control;

/// One input: a file's display name and its text.
#[derive(Debug)]
pub struct Source {
    pub name: Arc<str>,
    pub text: String,
}

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Expands paths (files, directories recursively, `-` for stdin) into a sorted list of files.
/// Directories contribute only regular `.yaml`, `.yml` and `.json` files and skip hidden
/// entries; other file types there (FIFOs, sockets, devices) are skipped with a notice on
/// stderr. A file named explicitly is always read. A file or directory reached twice (through
/// symlinks, or a symlink loop) is visited once, by device and inode.
pub fn expand(paths: &[PathBuf], errors: &mut Vec<InputError>) -> Vec<PathBuf> {
    let mut walker = Walker {
        seen: HashSet::new(),
        files: Vec::new(),
        errors,
    };
    for path in paths {
        if path.as_os_str() == "-" {
            walker.files.push(path.clone());
            continue;
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walker.walk(path, &meta),
            Ok(meta) => {
                if walker.first_visit(&meta) {
                    walker.files.push(path.clone());
                }
            }
            Err(e) => walker.errors.push(InputError {
                file: display(path),
                line: None,
                message: if e.kind() == std::io::ErrorKind::NotFound {
                    "no such file or directory".to_owned()
                } else {
                    format!("cannot read: {e}")
                },
            }),
        }
    }
    walker.files
}

struct Walker<'e> {
    /// (device, inode) of every directory and file already taken.
    seen: HashSet<(u64, u64)>,
    files: Vec<PathBuf>,
    errors: &'e mut Vec<InputError>,
}

impl Walker<'_> {
    fn first_visit(&mut self, meta: &Metadata) -> bool {
        self.seen.insert((meta.dev(), meta.ino()))
    }

    fn walk(&mut self, dir: &Path, meta: &Metadata) {
        if !self.first_visit(meta) {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                self.errors.push(InputError {
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
            // Follows symlinks: a link is checked as what it points to.
            let meta = match std::fs::metadata(&path) {
                Ok(meta) => meta,
                Err(e) => {
                    if is_manifest(&path) {
                        self.errors.push(InputError {
                            file: display(&path),
                            line: None,
                            message: format!("cannot read file: {e}"),
                        });
                    }
                    continue;
                }
            };
            if meta.is_dir() {
                self.walk(&path, &meta);
            } else if !is_manifest(&path) {
                continue;
            } else if meta.is_file() {
                if self.first_visit(&meta) {
                    self.files.push(path);
                }
            } else {
                notice(&path, special_kind(&meta));
            }
        }
    }
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn special_kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// Said on stderr, so it never mixes into a machine-readable report on stdout.
fn notice(path: &Path, kind: &str) {
    eprintln!(
        "notice: skipped {}: {kind}, not a regular file (name it explicitly to read it)",
        escape_control(&display(path))
    );
}

pub fn display(path: &Path) -> Arc<str> {
    Arc::from(path.to_string_lossy().as_ref())
}

/// Reads one input, at most `max_size` bytes; `-` is standard input.
pub fn read(path: &Path, max_size: u64) -> Result<Source, InputError> {
    let (name, reader, size): (Arc<str>, Box<dyn Read>, u64) = if path.as_os_str() == "-" {
        (Arc::from("<stdin>"), Box::new(std::io::stdin()), 0)
    } else {
        let name = display(path);
        let error = |e: std::io::Error| InputError {
            file: name.clone(),
            line: None,
            message: format!("cannot read file: {e}"),
        };
        let file = std::fs::File::open(path).map_err(error)?;
        let meta = file.metadata().map_err(error)?;
        if meta.is_file() && meta.len() > max_size {
            return Err(too_large(name, max_size));
        }
        (name, Box::new(file), meta.len())
    };
    let mut bytes = buffer(&name, size.min(max_size))?;
    // One byte past the limit tells a file at the limit from a larger one (pipes have no size).
    reader
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| InputError {
            file: name.clone(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
    if bytes.len() as u64 > max_size {
        return Err(too_large(name, max_size));
    }
    let text = String::from_utf8(bytes).map_err(|e| InputError {
        file: name.clone(),
        line: None,
        message: format!("not UTF-8 text: {e}"),
    })?;
    Ok(Source { name, text })
}

/// An empty buffer with room for `size` bytes plus the byte that tells a file grown meanwhile,
/// so the text is read in one go rather than into a buffer that doubles (pipes pass 0). A size
/// the process cannot hold is an input error naming the file, not an allocation abort.
fn buffer(name: &Arc<str>, size: u64) -> Result<Vec<u8>, InputError> {
    let mut bytes = Vec::new();
    let wanted = usize::try_from(size.saturating_add(1)).unwrap_or(usize::MAX);
    bytes.try_reserve_exact(wanted).map_err(|e| InputError {
        file: name.clone(),
        line: None,
        message: format!(
            "cannot hold {} in memory ({e}); split the file or lower --max-file-size",
            format_size(size)
        ),
    })?;
    Ok(bytes)
}

fn too_large(file: Arc<str>, max_size: u64) -> InputError {
    InputError {
        file,
        line: None,
        message: format!(
            "larger than the {} limit; not read (raise it with --max-file-size)",
            format_size(max_size)
        ),
    }
}

/// `64MiB`, `512KiB` or a number of bytes: sizes as `--max-file-size` takes them.
pub fn format_size(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Parses `--max-file-size`: a number of bytes with an optional `KiB`, `MiB`, `GiB` (or `K`,
/// `M`, `G`, same meaning) suffix.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size; use e.g. 64MiB, 512KiB or 1000000"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" => 10,
        "m" | "mib" => 20,
        "g" | "gib" => 30,
        other => return Err(format!("unknown size unit {other:?}; use KiB, MiB or GiB")),
    };
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("10k"), Ok(10 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("1TiB").is_err());
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1000), "1000 bytes");
    }

    #[test]
    fn a_size_beyond_memory_is_an_input_error_naming_the_file() {
        let name: Arc<str> = Arc::from("huge.yaml");
        for size in [u64::MAX, isize::MAX as u64] {
            let error = buffer(&name, size).expect_err("no allocation of that size");
            assert_eq!(error.file, name);
            assert!(error.message.contains("in memory"), "{}", error.message);
        }
        assert!(buffer(&name, 4096).expect("a small buffer").capacity() > 4096);
    }
}
