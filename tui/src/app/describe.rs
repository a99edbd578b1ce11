//! The text of the Policies screen's panes: `d` describe (a kubectl-describe-like summary), `y`
//! YAML (the object without managedFields), and the field-level diff of a drift.

use guardian_cluster::drift::Drift;
use guardian_core::crd::{GuardianException, GuardianPolicy};
use serde::Serialize;

use super::policies::Object;

/// The object as YAML, managedFields left out (noise for a reader, as kubectl does).
pub fn yaml(object: &Object) -> Vec<String> {
    let text = match object {
        Object::Policy(p) => to_yaml(&without_managed(p.as_ref().clone())),
        Object::Exception(e) => to_yaml(&without_managed_exception(e.as_ref().clone())),
    };
    text.lines().map(str::to_owned).collect()
}

fn without_managed(mut policy: GuardianPolicy) -> GuardianPolicy {
    policy.metadata.managed_fields = None;
    policy
}

fn without_managed_exception(mut exception: GuardianException) -> GuardianException {
    exception.metadata.managed_fields = None;
    exception
}

fn to_yaml(object: &impl Serialize) -> String {
    serde_yaml_ng::to_string(object)
        .unwrap_or_else(|error| format!("# this object does not serialise as YAML: {error}"))
}

/// A summary of the object: what it enforces, where, and its status.
pub fn describe(cluster: &str, object: &Object) -> Vec<String> {
    let mut lines = Vec::new();
    match object {
        Object::Policy(policy) => {
            let spec = &policy.spec;
            lines.push(format!(
                "Name:         {}",
                policy.metadata.name.as_deref().unwrap_or_default()
            ));
            lines.push(format!("Cluster:      {cluster}"));
            lines.push("Kind:         GuardianPolicy".to_owned());
            lines.push(format!("Enforcement:  {:?}", spec.enforcement));
            if let Some(description) = &spec.description {
                lines.push(format!("Description:  {description}"));
            }
            let profiles: Vec<&str> = spec.profiles.iter().map(|p| p.as_str()).collect();
            lines.push(format!(
                "Profiles:     {}",
                none_if_empty(&profiles.join(", "))
            ));
            let rules: Vec<String> = spec
                .rules
                .iter()
                .map(|r| {
                    let name =
                        r.id.clone()
                            .or_else(|| r.cel.as_ref().map(|c| c.name.clone()));
                    let severity = r.severity.map(|s| format!(" ({s})")).unwrap_or_default();
                    format!("{}{severity}", name.unwrap_or_default())
                })
                .collect();
            lines.push(format!(
                "Rules:        {}",
                none_if_empty(&rules.join(", "))
            ));
            lines.push(format!(
                "Generation:   {} (observed {})",
                policy
                    .metadata
                    .generation
                    .map_or("-".into(), |g| g.to_string()),
                policy
                    .status
                    .as_ref()
                    .and_then(|s| s.observed_generation)
                    .map_or("-".into(), |g| g.to_string())
            ));
            if let Some(summary) = policy.status.as_ref().and_then(|s| s.summary.as_ref()) {
                lines.push(format!(
                    "Summary:      {} rules, {} resources evaluated, {} violations",
                    summary.rules, summary.resources_evaluated, summary.violations
                ));
            }
            lines.push("Conditions:".to_owned());
            let conditions = policy.status.as_ref().map(|s| s.conditions.as_slice());
            for c in conditions.unwrap_or_default() {
                lines.push(format!(
                    "  {:<9} {:<6} {:<20} {}  {}",
                    c.type_, c.status, c.reason, c.last_transition_time.0, c.message
                ));
            }
            if conditions.is_none_or(|c| c.is_empty()) {
                lines.push("  none: the operator has not written a status".to_owned());
            }
        }
        Object::Exception(exception) => {
            let spec = &exception.spec;
            lines.push(format!(
                "Name:          {}/{}",
                exception.metadata.namespace.as_deref().unwrap_or_default(),
                exception.metadata.name.as_deref().unwrap_or_default()
            ));
            lines.push(format!("Cluster:       {cluster}"));
            lines.push("Kind:          GuardianException".to_owned());
            lines.push(format!("Policy:        {}", spec.policy));
            lines.push(format!(
                "Rules:         {}",
                none_if_empty(&spec.rules.join(", "))
            ));
            lines.push(format!("Owner:         {}", spec.owner));
            lines.push(format!("Expires:       {}", spec.expires_at.0));
            lines.push(format!("Justification: {}", spec.justification));
            let names = spec.resources.names.join(", ");
            lines.push(format!("Resources:     {}", none_if_empty(&names)));
            if let Some(container) = &spec.resources.container {
                lines.push(format!("Container:     {container}"));
            }
        }
    }
    lines
}

fn none_if_empty(text: &str) -> &str {
    if text.is_empty() { "(none)" } else { text }
}

/// The drift of one object field by field, each cluster's value on its own line.
pub fn diff(drift: &Drift) -> Vec<String> {
    let mut lines = vec![format!("{} {}", drift.kind.as_str(), drift.name)];
    lines.push(format!("present in: {}", drift.present_in.join(", ")));
    if !drift.missing_in.is_empty() {
        lines.push(format!("missing in: {}", drift.missing_in.join(", ")));
    }
    for field in &drift.fields {
        lines.push(String::new());
        lines.push(field.path.clone());
        let width = field
            .values
            .iter()
            .map(|v| v.context.len())
            .max()
            .unwrap_or(0);
        for value in &field.values {
            let shown = value
                .value
                .as_ref()
                .map_or("(absent)".to_owned(), |v| v.to_string());
            lines.push(format!("  {:<width$}  {shown}", value.context));
        }
    }
    if drift.fields.is_empty() {
        lines.push("the same wherever it is present".to_owned());
    }
    lines
}
