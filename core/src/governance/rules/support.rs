//! Helpers shared by the rule families: nested lookups, "where a securityContext can be set",
//! and violation builders that name the container and the exact field.

use std::fmt::Display;

use serde_json::{Map, Value};

use crate::governance::traits::Violation;
use crate::workload::{ContainerKind, ContainerRef, Fields, SecurityContext, WorkloadView};

/// The value at a dotted chain of keys below `map` (no indices), e.g. `dig(sc, "seccompProfile.type")`.
pub(super) fn dig<'a>(mut map: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut rest = path;
    // A byte loop, not `split_once('.')`: the paths are a few bytes long and the char searcher's
    // set-up cost more than the search (a few % of the engine's profile).
    while let Some(dot) = rest.bytes().position(|b| b == b'.') {
        map = map.get(&rest[..dot])?.as_object()?;
        rest = &rest[dot + 1..];
    }
    map.get(rest)
}

/// The string at a dotted chain of keys; `None` when missing or not a string.
pub(super) fn dig_str<'a>(map: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    dig(map, path).and_then(Value::as_str)
}

/// A JSON value for a message: strings quoted, anything else as JSON.
pub(super) fn show(v: &Value) -> String {
    v.as_str()
        .map_or_else(|| v.to_string(), |s| format!("{s:?}"))
}

/// `spec.os.name` is `windows`: PSS exempts such pods from the Linux-only restricted controls.
pub(super) fn is_windows(w: &WorkloadView<'_>) -> bool {
    dig_str(w.pod_spec, "os.name") == Some("windows")
}

/// `spec.hostUsers: false`: the pod runs in a user namespace, which PSS (1.35+) relaxes some controls for.
pub(super) fn in_user_namespace(w: &WorkloadView<'_>) -> bool {
    w.pod_spec.bool_field("hostUsers") == Some(false)
}

/// A violation on a field of one container; the message starts with `container "name"`.
pub(super) fn container_violation(
    c: &ContainerRef<'_>,
    suffix: &str,
    what: impl Display,
) -> Violation {
    container_violation_at(c, c.field_path(suffix), what)
}

/// [`container_violation`] at a path with a formatted tail (`env[3].value`), built in one
/// allocation.
pub(super) fn container_violation_with(
    c: &ContainerRef<'_>,
    suffix: &str,
    tail: std::fmt::Arguments<'_>,
    what: impl Display,
) -> Violation {
    container_violation_at(c, c.field_path_with(suffix, tail), what)
}

fn container_violation_at(c: &ContainerRef<'_>, path: String, what: impl Display) -> Violation {
    use std::fmt::Write as _;
    let mut message = String::with_capacity(96);
    message.push_str("container ");
    push_quoted(&mut message, c.name);
    message.push(' ');
    // Writing to a String cannot fail.
    let _ = write!(message, "{what}");
    Violation::in_container(path, message, c.name)
}

/// `"name"` as `{:?}` would print it, without the per-character escaping for the usual plain name.
fn push_quoted(out: &mut String, s: &str) {
    if s.bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    {
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
    w.pod_spec
        .list_field("volumes")
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
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

    /// The value at a dotted chain of keys inside this securityContext.
    pub fn get(&self, path: &str) -> Option<&'a Value> {
        match path.bytes().position(|b| b == b'.') {
            None => self.sc.get(path),
            Some(dot) => dig(self.sc.get(&path[..dot])?.as_object()?, &path[dot + 1..]),
        }
    }

    /// The object at a dotted chain of keys inside this securityContext.
    pub fn map(&self, path: &str) -> Option<&'a Map<String, Value>> {
        self.get(path).and_then(Value::as_object)
    }

    pub fn bool(&self, path: &str) -> Option<bool> {
        self.get(path).and_then(Value::as_bool)
    }

    /// The array at a dotted chain of keys inside this securityContext (empty when absent).
    pub fn list(&self, path: &str) -> &'a [Value] {
        self.get(path)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// A violation at `securityContext.<suffix>` of this site; the message is `<subject> <what>`,
    /// the subject being `the pod` or `container "name"`.
    pub fn violation(&self, suffix: &str, what: impl Display) -> Violation {
        match self.owner {
            Owner::Pod(spec) => Violation::new(
                format!("{spec}.securityContext.{suffix}"),
                format!("the pod {what}"),
            ),
            Owner::Container(c) => {
                let path = c.field_path_with("securityContext", format_args!(".{suffix}"));
                container_violation_at(c, path, what)
            }
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
        assert_eq!(dig_str(map, "a.b.c"), Some("x"));
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
        }
    }

    #[test]
    fn show_quotes_strings_only() {
        assert_eq!(show(&json!("SYS_ADMIN")), "\"SYS_ADMIN\"");
        assert_eq!(show(&json!(5)), "5");
    }
}
