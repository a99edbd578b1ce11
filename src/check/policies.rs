//! Loading GuardianPolicies and GuardianExceptions from `--policy` files and directories.

use std::path::PathBuf;

use guardian_core::crd::{GuardianException, GuardianPolicy, GuardianPolicySpec, Profile};
use serde_json::Value;

use super::input::{expand, read};
use super::report::InputError;
use guardian_core::load::documents;

/// The policies and exceptions of a run, or every error found loading them.
#[derive(Debug, Default)]
pub struct Loaded {
    pub policies: Vec<GuardianPolicy>,
    pub exceptions: Vec<GuardianException>,
}

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
        for doc in documents(&source.text) {
            let error = |message: String, line: Option<usize>| InputError {
                file: source.name.clone(),
                line: line.or(Some(doc.first_line)),
                message,
            };
            let value = match &doc.value {
                Ok(value) => value.clone(),
                Err(e) => {
                    errors.push(InputError::document(&source.name, &doc, e));
                    continue;
                }
            };
            if let Err(message) = add_document(value, &mut loaded) {
                errors.push(error(message, None));
            }
        }
    }
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(errors)
    }
}

fn add_document(value: Value, loaded: &mut Loaded) -> Result<(), String> {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match kind.as_str() {
        "GuardianPolicy" => serde_json::from_value(value)
            .map(|p| loaded.policies.push(p))
            .map_err(|e| format!("invalid GuardianPolicy: {e}")),
        "GuardianException" => serde_json::from_value(value)
            .map(|e| loaded.exceptions.push(e))
            .map_err(|e| format!("invalid GuardianException: {e}")),
        "" => Err("document has no kind; expected GuardianPolicy or GuardianException".to_owned()),
        other => Err(format!(
            "kind {other} is not a policy; expected GuardianPolicy or GuardianException"
        )),
    }
}

/// The policy used when no `--policy` is given: the named profiles, report-only.
pub fn from_profiles(profiles: &[Profile]) -> GuardianPolicy {
    GuardianPolicy::new(
        "default",
        GuardianPolicySpec {
            description: Some("kube-guardian's default checks".to_owned()),
            profiles: profiles.to_vec(),
            ..GuardianPolicySpec::default()
        },
    )
}
