//! The edit's temp file: private (0600, in a 0700 directory of the XDG state dir), named after
//! the cluster and object, with a comment header the user reads and the loader ignores. It is
//! removed only when the edit is applied or nothing changed; on every failure it stays, so no
//! edit is ever lost.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use guardian_cluster::write::ObjectKey;

use crate::error::Error;

fn io(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.to_owned();
    move |source| Error::EditFile { path, what, source }
}

/// Creates a new private file in `dir` for editing `key` of `context`, holding `text`.
pub fn create(dir: &Path, context: &str, key: &ObjectKey, text: &str) -> Result<PathBuf, Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir, "creating its directory"))?;
    private_dir(dir)?;
    let object = match &key.namespace {
        Some(ns) => format!("{ns}-{}", key.name),
        None => key.name.clone(),
    };
    let stem = format!("{context}-{}-{object}", key.kind.kind().to_lowercase());
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let unique = format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let path = dir.join(format!("{stem}-{unique}.yaml"));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(io(&path, "creating it"))?;
    // Ours: the directory's owner is the owner of the file just made in it.
    let owner = file
        .metadata()
        .map_err(io(&path, "reading its owner"))?
        .uid();
    let dir_owner = fs::symlink_metadata(dir)
        .map_err(io(dir, "reading its owner"))?
        .uid();
    if owner != dir_owner {
        let _ = fs::remove_file(&path);
        return Err(refused(dir, "it belongs to another user"));
    }
    file.write_all(text.as_bytes())
        .map_err(io(&path, "writing it"))?;
    Ok(path)
}

/// The directory exists as a real directory (not a symlink) that only its owner can write in.
fn private_dir(dir: &Path) -> Result<(), Error> {
    let meta = fs::symlink_metadata(dir).map_err(io(dir, "reading it"))?;
    if !meta.file_type().is_dir() {
        return Err(refused(dir, "it is not a directory (a symlink?)"));
    }
    if meta.permissions().mode() & 0o022 != 0 {
        return Err(refused(dir, "others can write in it (chmod 700 it)"));
    }
    Ok(())
}

fn refused(dir: &Path, why: &'static str) -> Error {
    Error::EditFile {
        path: dir.to_owned(),
        what: "keeping edits in it",
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, why),
    }
}

/// Replaces the file's text: a new private file renamed over it, so a symlink put in its place
/// is replaced, never followed.
pub fn write(path: &Path, text: &str) -> Result<(), Error> {
    let mut new = path.as_os_str().to_owned();
    new.push(".new");
    let new = PathBuf::from(new);
    // A leftover of an interrupted write (removing a symlink removes the link only).
    let _ = fs::remove_file(&new);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&new)
        .map_err(io(&new, "creating it"))?;
    file.write_all(text.as_bytes())
        .map_err(io(&new, "writing it"))?;
    fs::rename(&new, path).map_err(io(path, "replacing it"))
}

pub fn read(path: &Path) -> Result<String, Error> {
    fs::read_to_string(path).map_err(io(path, "reading it back"))
}

pub fn remove(path: &Path) -> Result<(), Error> {
    fs::remove_file(path).map_err(io(path, "removing it"))
}

/// `lines` as a comment block, each line prefixed with `# `.
pub fn comments<S: AsRef<str>>(lines: impl IntoIterator<Item = S>) -> String {
    let mut out = String::new();
    for line in lines {
        for part in line.as_ref().lines() {
            out.push_str("# ");
            out.push_str(part);
            out.push('\n');
        }
    }
    out
}

/// The text without its leading comment block (the header, errors or notes written above the
/// user's YAML), so reopening never piles headers up.
pub fn body(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim();
        if !(bare.is_empty() || bare.starts_with('#')) {
            break;
        }
        at += line.len();
    }
    &text[at..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_private_and_named_after_cluster_and_object() {
        let dir = tempfile::tempdir().expect("dir");
        let edits = dir.path().join("edits");
        let key = ObjectKey::exception("shop", "legacy");
        let path = create(&edits, "demo/a", &key, "x: 1\n").expect("created");
        let mode = fs::metadata(&path).expect("exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let dir_mode = fs::metadata(&edits).expect("dir").permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700, "{dir_mode:o}");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            name.starts_with("demo_a-guardianexception-shop-legacy-"),
            "{name}"
        );
        let again = create(&edits, "demo/a", &key, "x: 2\n").expect("a second one");
        assert_ne!(path, again, "two edits never share a file");
    }

    #[test]
    fn a_symlink_in_place_of_the_file_is_replaced_not_followed() {
        let dir = tempfile::tempdir().expect("dir");
        let edits = dir.path().join("edits");
        let path = create(&edits, "a", &ObjectKey::policy("p"), "x: 1\n").expect("created");
        let target = dir.path().join("victim");
        fs::write(&target, "precious\n").expect("target");
        fs::remove_file(&path).expect("remove");
        std::os::unix::fs::symlink(&target, &path).expect("symlink");
        write(&path, "x: 2\n").expect("written");
        assert_eq!(fs::read_to_string(&target).expect("target"), "precious\n");
        assert_eq!(read(&path).expect("read"), "x: 2\n");
        let meta = fs::symlink_metadata(&path).expect("meta");
        assert!(meta.file_type().is_file(), "{meta:?}");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn a_directory_others_can_write_in_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let shared = dir.path().join("shared");
        fs::create_dir(&shared).expect("dir");
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).expect("chmod");
        let e = create(&shared, "a", &ObjectKey::policy("p"), "x: 1\n").expect_err("refused");
        assert!(e.to_string().contains("keeping edits"), "{e}");
        assert_eq!(
            fs::read_dir(&shared).expect("list").count(),
            0,
            "nothing written"
        );
    }

    #[test]
    fn the_body_is_the_text_below_the_comment_block() {
        let text = format!(
            "{}\n{}spec: 1\n# kept\n",
            comments(["a", "b\nc"]),
            comments(["d"])
        );
        assert_eq!(body(&text), "spec: 1\n# kept\n");
        assert_eq!(body("# only\n"), "");
    }
}
