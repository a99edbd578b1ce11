//! Helpers shared by the rule families: nested lookups, "where a securityContext can be set",
//! and violation builders that name the container and the exact field.

use std::fmt::{self, Display};

use serde_json::{Map, Value};

use crate::governance::traits::Violation;
use crate::workload::{
    ContainerKind, ContainerRef, Fields, SecurityContext, WorkloadView, lookup, push_index,
};

/// What a finding's message says after its subject: a literal, or `format_args!` (a literal
/// `format_args!` is appended as is, without the formatting machinery).
pub(super) trait Describe {
    fn push_to(self, out: &mut String);
}

impl Describe for &str {
    fn push_to(self, out: &mut String) {
        out.push_str(self);
    }
}

impl Describe for fmt::Arguments<'_> {
    fn push_to(self, out: &mut String) {
        use std::fmt::Write as _;
        match self.as_str() {
            Some(s) => out.push_str(s),
            // Writing to a String cannot fail.
            None => _ = out.write_fmt(self),
        }
    }
}

/// A string in a message as `{:?}` prints it, without the per-character escaping for the usual
/// plain string.
pub(super) struct Quoted<'a>(pub &'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_plain(self.0) {
            f.write_str("\"")?;
            f.write_str(self.0)?;
            f.write_str("\"")
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

/// A JSON value in a message as [`show`] prints it, without building a string first.
pub(super) struct Shown<'a>(pub &'a Value);

impl Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_str() {
            Some(s) => Quoted(s).fmt(f),
            None => self.0.fmt(f),
        }
    }
}

fn is_plain(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

/// The value at a dotted chain of keys below `map` (no indices), e.g. `dig(sc, "seccompProfile.type")`.
#[inline]
pub(super) fn dig<'a>(mut map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut rest = path;
    // A byte loop, not `split_once('.')`: the paths are a few bytes long and the char searcher's
    // set-up cost more than the search (a few % of the engine's profile).
    while let Some(dot) = rest.bytes().position(|b| b == b'.') {
        map = lookup(map, &rest[..dot])?.as_object()?;
        rest = &rest[dot + 1..];
    }
    lookup(map, rest)
}

/// A JSON value for a message: strings quoted, anything else as JSON.
pub(super) fn show(v: &Value) -> String {
    v.as_str()
        .map_or_else(|| v.to_string(), |s| format!("{s:?}"))
}

/// `spec.os.name` is `windows`: PSS exempts such pods from the Linux-only restricted controls.
pub(super) fn is_windows(w: &WorkloadView<'_>) -> bool {
    w.os_name() == Some("windows")
}

/// `spec.hostUsers: false`: the pod runs in a user namespace, which PSS (1.35+) relaxes some controls for.
pub(super) fn in_user_namespace(w: &WorkloadView<'_>) -> bool {
    w.host_users() == Some(false)
}

/// A violation on a field of one container; the message starts with `container "name"`.
pub(super) fn container_violation(
    c: &ContainerRef<'_>,
    suffix: &str,
    what: impl Describe,
) -> Violation {
    container_violation_at(c, c.field_path(suffix), what)
}

/// [`container_violation`] at `<suffix>[<index>]<tail>` below the container
/// (`env[3].value`), the path built in one allocation.
pub(super) fn container_violation_indexed(
    c: &ContainerRef<'_>,
    suffix: &str,
    index: usize,
    tail: &str,
    what: impl Describe,
) -> Violation {
    let mut path = c.field_path(suffix);
    push_index(&mut path, index);
    path.push_str(tail);
    container_violation_at(c, path, what)
}

fn container_violation_at(c: &ContainerRef<'_>, path: String, what: impl Describe) -> Violation {
    let mut message = String::with_capacity(96);
    message.push_str("container ");
    push_quoted(&mut message, c.name);
    message.push(' ');
    what.push_to(&mut message);
    Violation::in_container(path, message, c.name)
}

/// `"name"` as `{:?}` would print it, without the per-character escaping for the usual plain name.
fn push_quoted(out: &mut String, s: &str) {
    if is_plain(s) {
        out.push('"');
        out.push_str(s);
        out.push('"');
    } else {
        use std::fmt::Write as _;
        let _ = write!(out, "{s:?}");
    }
}

/// Regular and init containers: the API forbids resources on ephemeral ones, so a rule demanding
/// them must skip ephemeral containers (no ephemeral container could comply).
pub(super) fn can_set_resources(c: &ContainerRef<'_>) -> bool {
    c.kind != ContainerKind::Ephemeral
}

/// The volumes of the pod spec that are objects: index, name and the volume.
pub(super) fn volumes<'a>(
    w: &WorkloadView<'a>,
) -> impl Iterator<Item = (usize, &'a str, &'a Map<String, Value>)> + 'a {
    w.volumes().iter().enumerate().filter_map(|(i, v)| {
        v.as_object()
            .map(|v| (i, v.str_field("name").unwrap_or(""), v))
    })
}

/// Whether a seccompProfile or appArmorProfile object names RuntimeDefault or Localhost.
pub(super) fn confined_profile(profile: &Map<String, Value>) -> bool {
    matches!(
        profile.str_field("type"),
        Some("RuntimeDefault" | "Localhost")
    )
}

/// The `type` of a profile object for a message (`""` when unset).
pub(super) fn profile_type(profile: &Map<String, Value>) -> String {
    profile.get("type").map_or_else(|| "\"\"".to_owned(), show)
}

/// Who owns a securityContext.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    /// The pod, with the path of its spec.
    Pod(&'static str),
    Container(&'a ContainerRef<'a>),
}

/// One place a securityContext can be set: the pod, or a container. Builds paths only on violation.
#[derive(Debug, Clone, Copy)]
pub(super) struct Site<'a> {
    /// The securityContext there (empty when not set).
    sc: &'a SecurityContext<'a>,
    owner: Owner<'a>,
}

impl<'a> Site<'a> {
    pub fn pod(w: &'a WorkloadView<'_>) -> Self {
        Site {
            sc: w.pod_security(),
            owner: Owner::Pod(w.kind.pod_spec_path()),
        }
    }

    pub fn container(c: &'a ContainerRef<'_>) -> Self {
        Site {
            sc: c.security(),
            owner: Owner::Container(c),
        }
    }

    /// The pod's site, then every container's (init, regular, ephemeral).
    pub fn all(w: &'a WorkloadView<'_>) -> impl Iterator<Item = Site<'a>> {
        std::iter::once(Site::pod(w)).chain(w.containers().map(Site::container))
    }

    /// The value at a dotted chain of keys inside this securityContext. Inlined, so the rules'
    /// literal keys are split and matched to their slot at compile time, not per object.
    #[inline(always)]
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        match path.bytes().position(|b| b == b'.') {
            None => self.sc.get(path),
            Some(dot) => dig(self.sc.get(&path[..dot])?.as_object()?, &path[dot + 1..]),
        }
    }

    /// The object at a dotted chain of keys inside this securityContext.
    #[inline(always)]
    pub fn map(&self, path: &str) -> Option<&'a Map<String, Value>> {
        self.get(path).and_then(Value::as_object)
    }

    #[inline(always)]
    pub fn bool(&self, path: &str) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }

    /// The array at a dotted chain of keys inside this securityContext (empty when absent).
    #[inline(always)]
    pub fn list(&self, path: &str) -> &'a [Value] {
        self.get(path)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// A violation at `securityContext.<suffix>` of this site; the message is `<subject> <what>`,
    /// the subject being `the pod` or `container "name"`.
    pub fn violation(&self, suffix: &str, what: impl Describe) -> Violation {
        self.violation_at(suffix, None, what)
    }

    /// A violation at `securityContext.<suffix>[<index>]` of this site.
    pub fn violation_indexed(&self, suffix: &str, index: usize, what: impl Describe) -> Violation {
        self.violation_at(suffix, Some(index), what)
    }

    fn violation_at(&self, suffix: &str, index: Option<usize>, what: impl Describe) -> Violation {
        let mut path = match self.owner {
            Owner::Pod(spec) => {
                let mut path = String::with_capacity(spec.len() + suffix.len() + 40);
                path.push_str(spec);
                path.push_str(".securityContext");
                path
            }
            Owner::Container(c) => c.field_path("securityContext"),
        };
        path.push('.');
        path.push_str(suffix);
        if let Some(i) = index {
            push_index(&mut path, i);
        }
        match self.owner {
            Owner::Pod(_) => {
                let mut message = String::with_capacity(64);
                message.push_str("the pod ");
                what.push_to(&mut message);
                Violation::new(path, message)
            }
            Owner::Container(c) => container_violation_at(c, path, what),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dig_walks_objects_and_stops_at_anything_else() {
        let v = json!({"a": {"b": {"c": "x"}}, "s": "str"});
        let map = v.as_object().expect("object");
        assert_eq!(dig(map, "a.b.c").and_then(Value::as_str), Some("x"));
        assert_eq!(dig(map, "a.b.c.d"), None);
        assert_eq!(dig(map, "s.t"), None);
        assert_eq!(dig(map, "missing"), None);
    }

    #[test]
    fn quoting_matches_debug_formatting() {
        for name in [
            "app",
            "with space",
            "quo\"te",
            "back\\slash",
            "tab\t",
            "ünï",
            "",
        ] {
            let mut out = String::new();
            push_quoted(&mut out, name);
            assert_eq!(out, format!("{name:?}"));
            assert_eq!(Quoted(name).to_string(), out);
            assert_eq!(Shown(&json!(name)).to_string(), show(&json!(name)));
        }
    }

    #[test]
    fn show_quotes_strings_only() {
        assert_eq!(show(&json!("SYS_ADMIN")), "\"SYS_ADMIN\"");
        assert_eq!(show(&json!(5)), "5");
        for v in [json!(5), json!(null), json!([1, "a"]), json!({"k": true})] {
            assert_eq!(Shown(&v).to_string(), show(&v));
        }
        let mut path = String::new();
        for i in [0, 7, 10, 12345, usize::MAX] {
            path.clear();
            push_index(&mut path, i);
            assert_eq!(path, format!("[{i}]"));
        }
    }
}
