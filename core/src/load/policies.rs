//! GuardianPolicies and GuardianExceptions from YAML (or JSON) text: what `check --policy` reads
//! and what the console's edit flow validates an edited policy with, so both accept and reject
//! exactly the same documents. Pure: text in; reading files and directories is the caller's.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::documents;
use crate::Error;
use crate::crd::{GuardianException, GuardianPolicy, GuardianPolicySpec, Profile};

/// The policies and exceptions read so far.
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub policies: Vec<GuardianPolicy>,
    pub exceptions: Vec<GuardianException>,
}

/// One document that does not load: where (the source's name and the 1-based line) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentError {
    pub origin: Arc<str>,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.origin, self.line, self.message)
    }
}

impl Loaded {
    /// Adds every policy and exception of `text`, which came from `origin` (a file name, or what
    /// the user edited). Every document that does not load is an error, returned all at once: a
    /// policy that silently does not load would pass a check it should fail.
    pub fn add_text(&mut self, text: &str, origin: &Arc<str>) -> Vec<DocumentError> {
        let mut errors = Vec::new();
        for doc in documents(text) {
            let failed = match doc.value {
                Ok(value) => self.add_document(value).err().map(|m| (doc.first_line, m)),
                Err(e) => {
                    let line = match &e {
                        Error::Manifest { line, .. } => *line,
                        _ => None,
                    };
                    Some((line.unwrap_or(doc.first_line), format!("invalid YAML: {e}")))
                }
            };
            if let Some((line, message)) = failed {
                errors.push(DocumentError {
                    origin: origin.clone(),
                    line,
                    message,
                });
            }
        }
        errors
    }

    fn add_document(&mut self, value: Value) -> Result<(), String> {
        let kind = value
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        match kind.as_str() {
            "GuardianPolicy" => serde_json::from_value(value)
                .map(|p| self.policies.push(p))
                .map_err(|e| format!("invalid GuardianPolicy: {e}")),
            "GuardianException" => serde_json::from_value(value)
                .map(|e| self.exceptions.push(e))
                .map_err(|e| format!("invalid GuardianException: {e}")),
            "" => {
                Err("document has no kind; expected GuardianPolicy or GuardianException".to_owned())
            }
            other => Err(format!(
                "kind {other} is not a policy; expected GuardianPolicy or GuardianException"
            )),
        }
    }
}

/// The policies and exceptions of one text, or every document of it that does not load
/// ([`Error::PolicyDocuments`]). `origin` names the text in the errors.
pub fn policies_from_str(text: &str, origin: &str) -> Result<Loaded, Error> {
    let mut loaded = Loaded::default();
    let errors = loaded.add_text(text, &Arc::from(origin));
    if errors.is_empty() {
        Ok(loaded)
    } else {
        Err(Error::PolicyDocuments(errors))
    }
}

/// The policy used when no policy is given: the named profiles, report-only.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::Enforcement;

    const GOOD: &str = "\
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata: {name: no-privileged}
spec:
  enforcement: Deny
  rules:
  - id: pss-privileged
---
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianException
metadata: {name: legacy, namespace: shop}
spec:
  policy: no-privileged
  owner: team-shop
  justification: migrating
  expiresAt: \"2030-01-01T00:00:00Z\"
  resources: {kinds: [Pod], names: [legacy]}
";

    #[test]
    fn a_good_text_gives_its_policies_and_exceptions() {
        let loaded = policies_from_str(GOOD, "edited policy").expect("loads");
        assert_eq!(loaded.policies.len(), 1);
        assert_eq!(loaded.policies[0].spec.enforcement, Enforcement::Deny);
        assert_eq!(loaded.exceptions.len(), 1);
    }

    #[test]
    fn every_bad_document_is_named_with_its_source_and_line() {
        let text = format!(
            "{GOOD}---\nkind: GuardianPolicy\nmetadata: {{name: x}}\nspec:\n  enforcement: Sometimes\n\
             ---\nkind: ConfigMap\n---\nkind: GuardianPolicy\nspec: [unclosed\n"
        );
        let Err(Error::PolicyDocuments(errors)) = policies_from_str(&text, "edited policy") else {
            panic!("must fail");
        };
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 3, "{shown:#?}");
        assert!(
            shown[0].starts_with("edited policy:19: invalid GuardianPolicy: ")
                && shown[0].contains("Sometimes"),
            "{}",
            shown[0]
        );
        assert_eq!(
            shown[1],
            "edited policy:24: kind ConfigMap is not a policy; expected GuardianPolicy or GuardianException"
        );
        assert!(
            shown[2].starts_with("edited policy:27: invalid YAML: "),
            "{}",
            shown[2]
        );
        let all = Error::PolicyDocuments(errors).to_string();
        assert!(all.contains("edited policy:24:"), "{all}");
    }
}
