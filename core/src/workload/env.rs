//! A container's env vars as the rules read them: each one's name and whether it has a literal
//! value. Read from the maps on each evaluation of a plain object, or once for a prepared one
//! (walking each env var's map was the engine's hottest spot: a B-tree node per env var).

use serde_json::{Map, Value};

use super::ContainerRef;

/// One env var of a container (an entry of `env` that is an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvVar<'a> {
    /// Its position in the container's `env` list.
    pub index: usize,
    /// `name` (`""` when unset or not a string).
    pub name: &'a str,
    /// Whether it has a literal `value` (set, not null, not `""`).
    pub literal: bool,
}

impl<'a> EnvVar<'a> {
    /// Reads one env var in one walk of its keys instead of two lookups.
    fn read(index: usize, env: &'a Map<String, Value>) -> Self {
        let mut var = EnvVar {
            index,
            name: "",
            literal: false,
        };
        for (key, value) in env {
            match key.as_str() {
                "name" => var.name = value.as_str().unwrap_or(""),
                "value" => var.literal = !value.is_null() && value.as_str() != Some(""),
                _ => {}
            }
        }
        var
    }
}

/// Every container's env vars, read once, in the view's container order; each container keeps
/// its range (see [`ContainerRef::env_range`]).
#[derive(Debug, Clone, Default)]
pub(super) struct ReadEnv<'a> {
    pub vars: Vec<EnvVar<'a>>,
}

impl<'a> ReadEnv<'a> {
    /// Reads the env vars of `containers` and records each container's range in it.
    pub fn read(containers: &mut [ContainerRef<'a>]) -> Self {
        let count = containers
            .iter()
            .map(|c| c.env().iter().filter(|e| e.is_object()).count())
            .sum();
        let mut vars = Vec::with_capacity(count);
        for c in containers {
            let start = vars.len();
            vars.extend(EnvVars::Raw(c.env().iter().enumerate()));
            c.env_range = Some((start, vars.len()));
        }
        ReadEnv { vars }
    }
}

/// The env vars of one container: already read (a prepared object) or read as they go.
#[derive(Debug)]
pub enum EnvVars<'v, 'a> {
    Read(std::slice::Iter<'v, EnvVar<'a>>),
    Raw(std::iter::Enumerate<std::slice::Iter<'a, Value>>),
}

impl<'v, 'a> EnvVars<'v, 'a> {
    pub(super) fn new(read: Option<&'v ReadEnv<'a>>, c: &ContainerRef<'a>) -> Self {
        match (read, c.env_range) {
            (Some(read), Some((start, end))) => {
                EnvVars::Read(read.vars.get(start..end).unwrap_or_default().iter())
            }
            _ => EnvVars::Raw(c.env().iter().enumerate()),
        }
    }
}

impl<'a> Iterator for EnvVars<'_, 'a> {
    type Item = EnvVar<'a>;

    fn next(&mut self) -> Option<EnvVar<'a>> {
        match self {
            EnvVars::Read(vars) => vars.next().copied(),
            EnvVars::Raw(entries) => entries
                .by_ref()
                .find_map(|(i, e)| e.as_object().map(|m| EnvVar::read(i, m))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::workload::{EnvVar, ObjectMeta, WorkloadView};

    /// A Deployment whose containers have these env lists (junk entries included).
    fn deployment(envs: &[Value]) -> Value {
        let containers: Vec<Value> = envs
            .iter()
            .enumerate()
            .map(|(i, env)| json!({"name": format!("c{i}"), "env": env}))
            .collect();
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
               "spec": {"template": {"spec": {"initContainers": [{"name": "i"}], "containers": containers}}}})
    }

    #[test]
    fn one_walk_reads_name_and_value_as_lookups_would() {
        let vars = json!([
            {"name": "A_TOKEN", "value": "x"},
            {"name": "A_TOKEN", "value": ""},
            {"name": "A_TOKEN", "value": null},
            "junk",
            {"name": "A_TOKEN", "value": 5},
            {"name": "A_TOKEN", "valueFrom": {"secretKeyRef": {}}},
            // Keys that only resemble `name` and `value` (the map is sorted, so the order in
            // which they are written here does not matter).
            {"nam": "A_TOKEN", "names": "B", "valu": "y", "value": "x"},
            {"name": 7, "value": "x"},
            {}
        ]);
        let object = deployment(std::slice::from_ref(&vars));
        let meta = ObjectMeta::from_value(&object).expect("a manifest");
        let view = WorkloadView::new(meta, &object).expect("a workload");
        let c = view.containers().nth(1).expect("the regular container");
        let by_lookup: Vec<EnvVar<'_>> = vars
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(index, v)| {
                let map = v.as_object()?;
                Some(EnvVar {
                    index,
                    name: map.get("name").and_then(Value::as_str).unwrap_or(""),
                    literal: map
                        .get("value")
                        .is_some_and(|v| !v.is_null() && v.as_str() != Some("")),
                })
            })
            .collect();
        assert_eq!(by_lookup.len(), 8);
        assert_eq!(view.env_vars(c).collect::<Vec<_>>(), by_lookup);
    }

    #[test]
    fn env_vars_read_ahead_are_those_read_as_they_go_for_every_container() {
        // Enough containers to spill past the view's inline slots, some without env.
        let envs: Vec<Value> = (0..7)
            .map(|i| match i % 3 {
                0 => json!([{"name": format!("V{i}"), "value": "x"}, "junk", {"name": "T", "valueFrom": {}}]),
                1 => Value::Null,
                _ => json!([{"name": format!("P{i}_PASSWORD"), "value": ""}]),
            })
            .collect();
        let object = deployment(&envs);
        let meta = ObjectMeta::from_value(&object).expect("a manifest");
        let raw = WorkloadView::new(meta, &object).expect("a workload");
        let mut read = raw.clone();
        read.read_env();
        assert_eq!(raw.containers().count(), 8);
        for (a, b) in raw.containers().zip(read.containers()) {
            assert!(a.env_range.is_none());
            assert!(b.env_range.is_some(), "{}", b.name);
            let (got, want): (Vec<_>, Vec<_>) =
                (read.env_vars(b).collect(), raw.env_vars(a).collect());
            assert_eq!(got, want, "container {}", a.name);
        }
        let total: usize = raw.containers().map(|c| raw.env_vars(c).count()).sum();
        assert_eq!(total, 3 * 2 + 2);
    }
}
