//! Quick actions without the editor, in the reducer: `m` switches a policy's enforcement (chosen
//! with the arrows, the enforcement preview first, `deny` typed to confirm Deny), `x` on a violation fills in an exception (owner, justification,
//! expiry in days: required, at most the configured maximum, 90 by default), `+` extends and
//! `Ctrl-d` revokes an exception. Each ends in the confirm dialog; the loop does the write.

use guardian_cluster::drift::DriftKind;
use guardian_cluster::impact::enforcement_preview;
use guardian_cluster::write::quick::NewException;
use guardian_cluster::write::{ObjectKey, WriteKind};
use guardian_core::crd::Enforcement;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::ui::{Modal, toast};
use crate::action::Action;
use crate::app::State;
use crate::app::state::Request;
use crate::app::violations::{self, Line};
use crate::views::Screen;

/// Workloads listed by name in the preview; the rest are counted.
const LISTED: usize = 12;

/// What a form is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// A new exception; owner, justification and expiry come from the fields.
    Exception {
        cluster: usize,
        template: NewException,
    },
    /// A new expiry for an exception.
    Extend { cluster: usize, key: ObjectKey },
}

/// Fields typed one after the other (Tab or Enter: the next; Enter on the last: done).
#[derive(Debug, Clone, PartialEq)]
pub struct Form {
    pub title: String,
    pub fields: Vec<(&'static str, String)>,
    pub focus: usize,
    pub error: Option<String>,
    pub purpose: Purpose,
    /// Now, and the longest expiry allowed, in days.
    pub now: Timestamp,
    pub max_days: u32,
}

impl Form {
    pub fn prompt(&self) -> String {
        "Tab/Enter next field · Enter on the last: review · Esc cancel".to_owned()
    }

    pub fn view(&self) -> (String, Vec<String>) {
        let mut lines: Vec<String> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, (label, value))| {
                let cursor = if i == self.focus { "▏" } else { "" };
                let mark = if i == self.focus { ">" } else { " " };
                format!("{mark} {label}: {value}{cursor}")
            })
            .collect();
        if let Some(error) = &self.error {
            lines.push(format!("! {error}"));
        }
        (self.title.clone(), lines)
    }

    /// A key; `Some(None)`: cancelled, `Some(Some(form))`: filled in and valid.
    pub fn key(&mut self, action: &Action) -> Option<Option<Form>> {
        match action {
            Action::Cancel => return Some(None),
            Action::Input(c) => self.fields.get_mut(self.focus)?.1.push(*c),
            Action::Erase => {
                self.fields.get_mut(self.focus)?.1.pop();
            }
            Action::Complete => self.focus = (self.focus + 1) % self.fields.len().max(1),
            Action::Submit if self.focus + 1 < self.fields.len() => self.focus += 1,
            Action::Submit => match self.check() {
                Ok(()) => return Some(Some(self.clone())),
                Err(error) => self.error = Some(error),
            },
            _ => {}
        }
        None
    }

    fn value(&self, label: &str) -> &str {
        self.fields
            .iter()
            .find(|(l, _)| *l == label)
            .map_or("", |(_, v)| v.trim())
    }

    /// The expiry the days field gives, or why it is refused.
    pub fn expiry(&self) -> Result<Timestamp, String> {
        let days: u32 = self
            .value("expires in days")
            .parse()
            .map_err(|_| "expires in days: a whole number of days is required".to_owned())?;
        if days == 0 || days > self.max_days {
            return Err(format!(
                "expires in days: between 1 and {} (max_exception_days)",
                self.max_days
            ));
        }
        self.now
            .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
            .map_err(|_| format!("expires in days: {days} days from now is out of range"))
    }

    fn check(&self) -> Result<(), String> {
        for label in ["owner", "justification"] {
            if self.fields.iter().any(|(l, _)| *l == label) && self.value(label).is_empty() {
                return Err(format!("{label} is required"));
            }
        }
        self.expiry().map(|_| ())
    }
}

fn default_days(state: &State) -> String {
    state.max_exception_days.min(90).to_string()
}

fn protected(state: &State, cluster: usize) -> Option<String> {
    let context = &state.clusters.get(cluster)?.context;
    state.protected.contains(context).then(|| context.clone())
}

fn confirm(
    state: &State,
    cluster: usize,
    title: String,
    lines: Vec<String>,
    on_yes: Request,
) -> Modal {
    Modal::Confirm {
        title,
        lines,
        protected: protected(state, cluster),
        typed: String::new(),
        on_yes,
        kept: None,
    }
}

/// Whether a write key may act on `screen`'s selected row: it is shown, writes are on and the
/// row is the one the last frame showed (see [`super::selection`]); `Some(redraw)`: not.
pub(super) fn refused(state: &mut State, screen: Screen) -> Option<bool> {
    if state.screen != screen || state.is_readonly() {
        return Some(false);
    }
    (!super::selection::as_seen(state)).then_some(true)
}

/// The GitOps warning of the object `key` in `cluster`'s snapshot, if Argo CD or Flux
/// manages it (its next sync would revert the write).
fn gitops(state: &State, cluster: usize, key: &ObjectKey) -> Option<String> {
    let snapshot = state.clusters.get(cluster)?.snapshot();
    let meta = match key.kind {
        WriteKind::Policy => snapshot
            .policies
            .iter()
            .map(|p| &p.metadata)
            .find(|m| m.name.as_deref() == Some(key.name.as_str()))?,
        WriteKind::Exception => snapshot.exceptions.iter().map(|e| &e.metadata).find(|m| {
            m.name.as_deref() == Some(key.name.as_str())
                && m.namespace.as_deref() == key.namespace.as_deref()
        })?,
    };
    guardian_cluster::write::gitops::warning(meta)
}

/// The Policies row under the cursor, with its cluster's position.
pub(super) fn selected_policy_row(
    state: &State,
) -> Option<(usize, &crate::app::policies::PolicyRow)> {
    if state.screen != Screen::Policies || state.is_readonly() {
        return None;
    }
    let row = crate::app::screens::visible(state, Screen::Policies)
        .get(state.cursor(Screen::Policies).selected)
        .and_then(|&i| state.screens.policies.get(i))?;
    let cluster = state
        .clusters
        .iter()
        .position(|c| c.context == row.cluster)?;
    Some((cluster, row))
}

/// `m` on a policy: choose the enforcement (the MODE column).
pub fn enforcement(state: &mut State) -> bool {
    if let Some(redraw) = refused(state, Screen::Policies) {
        return redraw;
    }
    let Some((cluster, row)) = selected_policy_row(state) else {
        return false;
    };
    if row.kind != DriftKind::GuardianPolicy {
        return false;
    }
    state.modal = Some(Modal::Enforcement {
        cluster,
        policy: row.name.clone(),
        choice: row.enforcement.unwrap_or(Enforcement::Audit),
        now: row.enforcement,
    });
    true
}

/// The confirm dialog of an enforcement switch, with what it would stop in that cluster.
pub fn enforcement_confirm(
    state: &State,
    cluster: usize,
    policy: String,
    to: Enforcement,
) -> Modal {
    let context = state
        .clusters
        .get(cluster)
        .map_or("?", |c| c.context.as_str());
    let mut lines = vec![format!("Switch {policy} in {context} to {to:?}?")];
    lines.extend(gitops(state, cluster, &ObjectKey::policy(&policy)));
    if let Some(c) = state.clusters.get(cluster) {
        let preview = enforcement_preview(c.snapshot(), &policy, to);
        let (verb, blocked) = match to {
            Enforcement::Deny => ("denied", &preview.denied),
            Enforcement::Warn => ("warned about", &preview.warned),
            Enforcement::Audit => ("only reported", &preview.denied),
        };
        if to == Enforcement::Audit {
            lines.push("Audit blocks nothing: violations are only reported.".to_owned());
        } else {
            lines.push(format!(
                "Would be {verb} when next created or rolled out: {} workload(s) in {context}",
                blocked.len()
            ));
            for b in blocked.iter().take(LISTED) {
                lines.push(format!("  {} ({})", b.resource, b.rules.join(", ")));
            }
            if blocked.len() > LISTED {
                lines.push(format!("  … and {} more", blocked.len() - LISTED));
            }
        }
    }
    let title = format!("Enforcement of {policy}");
    let on_yes = Request::SetEnforcement {
        cluster,
        policy,
        to,
    };
    let mut modal = confirm(state, cluster, title, lines, on_yes);
    // Deny blocks admissions: typed, never a stray `y` (the protected context's name wins).
    if let Modal::Confirm { protected, .. } = &mut modal
        && to == Enforcement::Deny
        && protected.is_none()
    {
        *protected = Some("deny".to_owned());
    }
    modal
}

/// `x` on a violation: the exception form for it.
pub fn create_exception(state: &mut State) -> bool {
    if let Some(redraw) = refused(state, Screen::Violations) {
        return redraw;
    }
    let selected = state.cursor(Screen::Violations).selected;
    let Some(Line::Row(r)) = state.violations.table.lines.get(selected) else {
        return false;
    };
    let Some((_, row)) = violations::row(&state.violations.table, *r) else {
        return false;
    };
    if let Some(by) = row.waived_by() {
        let text = format!("already waived by {by}: extend that one on Policies (+)");
        toast(state, text);
        return true;
    }
    let finding = row.finding;
    let cluster = usize::try_from(r.cluster).unwrap_or(usize::MAX);
    let resource = &finding.resource;
    let Some(namespace) = resource.namespace.clone() else {
        toast(
            state,
            "exceptions are namespaced: this object has no namespace".to_owned(),
        );
        return true;
    };
    let name = exception_name(&resource.name, finding.rule_id(), state.now);
    let template = NewException {
        namespace,
        name,
        policy: finding.policy().to_string(),
        rule: finding.rule_id().to_string(),
        kind: resource.kind.clone(),
        resource: resource.name.clone(),
        owner: String::new(),
        justification: String::new(),
        expires_at: state.now,
    };
    let title = format!(
        "Exception for {resource}: {} of {}",
        finding.rule_id(),
        finding.policy()
    );
    let form = Form {
        title,
        fields: vec![
            ("owner", String::new()),
            ("justification", String::new()),
            ("expires in days", default_days(state)),
        ],
        focus: 0,
        error: None,
        purpose: Purpose::Exception { cluster, template },
        now: state.now,
        max_days: state.max_exception_days,
    };
    state.modal = Some(Modal::Form(form));
    true
}

/// `+` on an exception: a new expiry.
pub fn extend(state: &mut State) -> bool {
    if let Some(redraw) = refused(state, Screen::Policies) {
        return redraw;
    }
    let Some((cluster, key)) = selected_exception(state) else {
        return false;
    };
    let form = Form {
        title: format!("Extend {key}"),
        fields: vec![("expires in days", default_days(state))],
        focus: 0,
        error: None,
        purpose: Purpose::Extend { cluster, key },
        now: state.now,
        max_days: state.max_exception_days,
    };
    state.modal = Some(Modal::Form(form));
    true
}

/// `Ctrl-d` on an exception: revoke it.
pub fn revoke(state: &mut State) -> bool {
    if let Some(redraw) = refused(state, Screen::Policies) {
        return redraw;
    }
    let Some((cluster, key)) = selected_exception(state) else {
        return false;
    };
    let mut lines = vec![format!(
        "Delete {key}? The violations it waives count again."
    )];
    lines.extend(gitops(state, cluster, &key));
    let modal = confirm(
        state,
        cluster,
        format!("Revoke {key}"),
        lines,
        Request::RevokeException {
            cluster,
            key: key.clone(),
        },
    );
    state.modal = Some(modal);
    true
}

fn selected_exception(state: &State) -> Option<(usize, ObjectKey)> {
    let (cluster, row) = selected_policy_row(state)?;
    if row.kind != DriftKind::GuardianException {
        return None;
    }
    let (ns, name) = row.name.split_once('/')?;
    Some((cluster, ObjectKey::exception(ns, name)))
}

/// The confirm dialog of a filled-in form.
pub fn exception_confirm(state: &State, form: Form) -> Modal {
    let expires_at = form.expiry().unwrap_or(form.now);
    match form.purpose {
        Purpose::Exception { cluster, template } => {
            let exception = NewException {
                owner: form.fields[0].1.trim().to_owned(),
                justification: form.fields[1].1.trim().to_owned(),
                expires_at,
                ..template
            };
            let mut lines = vec![format!("Create {} ?", exception.key())];
            lines.extend(
                super::diff::yaml(&exception.manifest())
                    .lines()
                    .map(|l| format!("+ {l}")),
            );
            let title = format!("Create {}", exception.key());
            confirm(
                state,
                cluster,
                title,
                lines,
                Request::CreateException { cluster, exception },
            )
        }
        Purpose::Extend { cluster, key } => {
            let mut lines = vec![format!("Set the expiry of {key} to {expires_at}?")];
            lines.extend(gitops(state, cluster, &key));
            let title = format!("Extend {key}");
            let on_yes = Request::ExtendException {
                cluster,
                key,
                expires_at,
            };
            confirm(state, cluster, title, lines, on_yes)
        }
    }
}

/// `<workload>-<rule>-<suffix>`: the suffix (from the clock) keeps a new exception from
/// colliding with an expired one still stored under the same workload and rule.
fn exception_name(workload: &str, rule: &str, now: Timestamp) -> String {
    let base = dns_name(&format!("{workload}-{rule}"));
    let base: String = base.chars().take(57).collect();
    let seconds = format!("{:x}", now.as_second().unsigned_abs());
    let suffix = &seconds[seconds.len().saturating_sub(5)..];
    format!("{}-{suffix}", base.trim_end_matches('-'))
}

/// A DNS-1123 subdomain from `text`: lower case, `-` for anything else, at most 63 characters.
fn dns_name(text: &str) -> String {
    let name: String = text
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let name = name.trim_matches('-');
    name.chars()
        .take(63)
        .collect::<String>()
        .trim_end_matches('-')
        .to_owned()
}

#[cfg(test)]
#[path = "quick_tests.rs"]
mod tests;
