//! Whether an edited file may be applied: one document that parses (the same loader as
//! `check`), keeps the object's identity (apiVersion, kind, name, namespace), loads as a
//! GuardianPolicy or GuardianException and compiles in the core engine. Every problem is
//! reported at once, with the file's line where there is one.

use guardian_cluster::write::ObjectKey;
use guardian_core::engine::PolicySet;
use guardian_core::load::{documents, policies_from_str};
use serde_json::Value;

/// The edited object as parsed (what is sent to the server), or every problem found.
pub fn validate(text: &str, key: &ObjectKey, original: &Value) -> Result<Value, Vec<String>> {
    let docs = documents(text);
    let value = match docs.as_slice() {
        [] => {
            return Err(vec![
            "the file holds no object: put the object back, or close without a change to cancel"
                .to_owned(),
        ]);
        }
        [one] => match &one.value {
            Ok(value) => value.clone(),
            Err(e) => return Err(vec![format!("invalid YAML: {e}")]),
        },
        _ => {
            return Err(vec![format!(
                "the file holds {} documents: edit only {key}",
                docs.len()
            )]);
        }
    };
    let mut errors = identity(&value, original);
    if !errors.is_empty() {
        return Err(errors);
    }
    let origin = format!("edited {}", key.kind.kind());
    match policies_from_str(text, &origin) {
        Ok(loaded) => {
            let (_, rejected) = PolicySet::compile_partial(&loaded.policies, &loaded.exceptions);
            errors.extend(
                rejected
                    .iter()
                    .flat_map(|r| &r.errors)
                    .map(|e| format!("does not compile: {e}")),
            );
        }
        Err(guardian_core::Error::PolicyDocuments(documents)) => {
            errors.extend(documents.iter().map(ToString::to_string));
        }
        Err(other) => errors.push(other.to_string()),
    }
    if errors.is_empty() {
        Ok(value)
    } else {
        Err(errors)
    }
}

/// apiVersion, kind, name and namespace: what names the object. Changing them would write
/// another object, so the edit refuses (kubectl does the same).
fn identity(edited: &Value, original: &Value) -> Vec<String> {
    let fields: [(&str, &[&str]); 4] = [
        ("apiVersion", &["apiVersion"]),
        ("kind", &["kind"]),
        ("metadata.name", &["metadata", "name"]),
        ("metadata.namespace", &["metadata", "namespace"]),
    ];
    let at = |value: &Value, path: &[&str]| {
        path.iter()
            .try_fold(value, |v, k| v.get(k))
            .cloned()
            .unwrap_or(Value::Null)
    };
    fields
        .iter()
        .filter_map(|(name, path)| {
            let (was, now) = (at(original, path), at(edited, path));
            (was != now).then(|| {
                format!("{name} cannot change (was {was}, now {now}): it names the object being edited; undo that change")
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const POLICY: &str = "\
apiVersion: guardian.kube-guardian.dev/v1alpha1
kind: GuardianPolicy
metadata:
  name: p
spec:
  enforcement: Audit
  rules:
  - id: pss-privileged
";

    fn original() -> Value {
        json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": {"name": "p"},
            "spec": {"enforcement": "Audit", "rules": [{"id": "pss-privileged"}]}
        })
    }

    #[test]
    fn a_valid_edit_is_its_parsed_value() {
        let key = ObjectKey::policy("p");
        let text = POLICY.replace("Audit", "Deny");
        let value = validate(&text, &key, &original()).expect("valid");
        assert_eq!(value["spec"]["enforcement"], "Deny");
    }

    #[test]
    fn identity_changes_yaml_errors_and_compile_errors_are_reported() {
        let key = ObjectKey::policy("p");
        let renamed = POLICY.replace("name: p", "name: q");
        let errors = validate(&renamed, &key, &original()).expect_err("renamed");
        assert!(
            errors[0].starts_with("metadata.name cannot change"),
            "{errors:?}"
        );

        let broken = POLICY.replace("  - id: pss-privileged", "  - id: [unclosed");
        let errors = validate(&broken, &key, &original()).expect_err("bad YAML");
        assert!(errors[0].starts_with("invalid YAML"), "{errors:?}");

        let unknown = POLICY.replace("pss-privileged", "no-such-rule");
        let errors = validate(&unknown, &key, &original()).expect_err("does not compile");
        assert!(
            errors[0].starts_with("does not compile") && errors[0].contains("no-such-rule"),
            "{errors:?}"
        );

        let shape = POLICY.replace("Audit", "Sometimes");
        let errors = validate(&shape, &key, &original()).expect_err("bad enforcement");
        assert!(errors[0].contains("Sometimes"), "{errors:?}");
    }
}
