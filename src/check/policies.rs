//! Loading GuardianPolicies and GuardianExceptions from `--policy` files and directories: the
//! files are read here (directory expansion, size limits); their text is turned into policies by
//! core's loader, the one the console validates an edited policy with.

use std::path::PathBuf;

pub use guardian_core::load::{Loaded, from_profiles};

use super::input::{expand, read};
use super::report::InputError;

/// Reads every policy document; any unreadable or unknown document is an error (a policy that
/// silently does not load would pass a CI check it should fail).
pub fn load(paths: &[PathBuf], max_file_size: u64) -> Result<Loaded, Vec<InputError>> {
    let mut errors = Vec::new();
    let mut loaded = Loaded::default();
    for path in expand(paths, &mut errors) {
        let source = match read(&path, max_file_size) {
            Ok(source) => source,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        errors.extend(
            loaded
                .add_text(&source.text, &source.name)
                .into_iter()
                .map(|e| InputError {
                    file: e.origin,
                    line: Some(e.line),
                    message: e.message,
                }),
        );
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}
