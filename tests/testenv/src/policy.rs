//! GuardianPolicies for tests: one builder instead of a YAML or JSON manifest in every test.
//!
//! ```
//! use guardian_testenv::policy::TestPolicy;
//!
//! let policy = TestPolicy::new("no-privileged")
//!     .enforcement("Deny")
//!     .namespaces(["team-a"])
//!     .rules(["pss-privileged"])
//!     .build();
//! assert_eq!(policy.metadata.name.as_deref(), Some("no-privileged"));
//! ```

use guardian_core::crd::GuardianPolicy;
use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::{Map, Value, json};

/// A GuardianPolicy's name and the parts of its spec a test sets; anything left unset is the
/// CRD's default (Audit, every namespace, no rules).
#[derive(Debug, Clone)]
pub struct TestPolicy {
    name: String,
    spec: Map<String, Value>,
    matching: Map<String, Value>,
    rules: Vec<Value>,
}

impl TestPolicy {
    pub fn new(name: impl Into<String>) -> Self {
        TestPolicy {
            name: name.into(),
            spec: Map::new(),
            matching: Map::new(),
            rules: Vec::new(),
        }
    }

    /// `Audit`, `Warn` or `Deny`.
    pub fn enforcement(mut self, enforcement: &str) -> Self {
        self.spec.insert("enforcement".into(), json!(enforcement));
        self
    }

    /// Matches the objects of these namespaces only.
    pub fn namespaces<S: AsRef<str>>(mut self, namespaces: impl IntoIterator<Item = S>) -> Self {
        let names: Vec<Value> = namespaces.into_iter().map(|n| json!(n.as_ref())).collect();
        self.matching
            .insert("namespaces".into(), Value::Array(names));
        self
    }

    /// Matches the objects of the namespaces labelled `key: value`.
    pub fn namespace_label(mut self, key: &str, value: &str) -> Self {
        self.matching.insert(
            "namespaceSelector".into(),
            json!({"matchLabels": {key: value}}),
        );
        self
    }

    /// Built-in rules by id, after those added before.
    pub fn rules<S: AsRef<str>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.rules
            .extend(ids.into_iter().map(|id| json!({"id": id.as_ref()})));
        self
    }

    /// A CEL rule, after those added before.
    pub fn cel(mut self, name: &str, expression: &str, message: &str) -> Self {
        self.rules.push(json!({"cel": {
            "name": name, "expression": expression, "message": message,
        }}));
        self
    }

    /// Built-in profiles (`pss-baseline`, `pss-restricted`, `best-practices`).
    pub fn profiles<S: AsRef<str>>(mut self, profiles: impl IntoIterator<Item = S>) -> Self {
        let profiles: Vec<Value> = profiles.into_iter().map(|p| json!(p.as_ref())).collect();
        self.spec.insert("profiles".into(), Value::Array(profiles));
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The manifest as JSON (which is YAML too: `kubectl apply -f` takes it).
    pub fn json(&self) -> Value {
        let mut spec = self.spec.clone();
        if !self.matching.is_empty() {
            spec.insert("match".into(), Value::Object(self.matching.clone()));
        }
        if !self.rules.is_empty() {
            spec.insert("rules".into(), Value::Array(self.rules.clone()));
        }
        json!({
            "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
            "kind": "GuardianPolicy",
            "metadata": {"name": self.name},
            "spec": spec,
        })
    }

    /// The typed policy.
    ///
    /// # Panics
    /// When the CRD type rejects what was set (an unknown enforcement or profile): a mistake in
    /// the test, not in what it tests.
    pub fn build(&self) -> GuardianPolicy {
        serde_json::from_value(self.json())
            .unwrap_or_else(|e| panic!("test policy {} does not fit the CRD type: {e}", self.name))
    }

    /// Creates the policy in the cluster `client` talks to.
    pub async fn create(&self, client: &Client) -> Result<GuardianPolicy, kube::Error> {
        Api::<GuardianPolicy>::all(client.clone())
            .create(&PostParams::default(), &self.build())
            .await
    }

    /// Creates the policy, for a test whose set-up it is.
    ///
    /// # Panics
    /// When the API server refuses it: the test cannot go on without its policy.
    pub async fn created(&self, client: &Client) -> GuardianPolicy {
        self.create(client)
            .await
            .unwrap_or_else(|e| panic!("creating policy {}: {e}", self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_holds_what_was_set_and_only_that() {
        let full = TestPolicy::new("p")
            .enforcement("Warn")
            .namespaces(["a", "b"])
            .rules(["pss-privileged"])
            .cel("team", "has(object.metadata.labels)", "needs labels")
            .json();
        assert_eq!(
            full["spec"],
            json!({
                "enforcement": "Warn",
                "match": {"namespaces": ["a", "b"]},
                "rules": [
                    {"id": "pss-privileged"},
                    {"cel": {"name": "team", "expression": "has(object.metadata.labels)", "message": "needs labels"}},
                ],
            })
        );
        let bare = TestPolicy::new("q").profiles(["pss-baseline"]);
        assert_eq!(bare.json()["spec"], json!({"profiles": ["pss-baseline"]}));
        let selected = TestPolicy::new("r").namespace_label("env", "prod").build();
        let selector = selected.spec.match_.namespace_selector.expect("selector");
        assert_eq!(
            selector.match_labels.expect("labels")["env"],
            "prod".to_owned()
        );
    }

    #[test]
    #[should_panic(expected = "test policy bad does not fit the CRD type")]
    fn a_policy_the_crd_type_rejects_is_a_test_mistake() {
        TestPolicy::new("bad").enforcement("Sometimes").build();
    }
}
