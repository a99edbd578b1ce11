//! `secret-env-vars`: a literal value in an env var whose name looks like a secret's.

use serde_json::{Map, Value};

use super::BEST_PRACTICES;
use crate::governance::rules::support::{Quoted, container_violation_indexed};
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::WorkloadView;

pub(super) const SECRET_ENV_VARS: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "secret-env-vars",
        title: "Secrets in literal env vars",
        category: Category::Security,
        severity: Severity::High,
        profiles: BEST_PRACTICES,
        description: "An env var whose name looks like a secret (PASSWORD, PASSWD, SECRET, TOKEN, API_KEY, APIKEY, \
                      PRIVATE_KEY, CREDENTIAL) has a literal value in the manifest, where anyone who can read the \
                      workload or its Git history can read it. Names ending in _FILE, _PATH, _DIR or _URL are references, \
                      not secrets, and are ignored.",
        remediation: "Store the value in a Secret and reference it with env[*].valueFrom.secretKeyRef (or mount the \
                      Secret as a file).",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  env:\n  - name: DB_PASSWORD\n    value: hunter2\n",
        example_pass: "containers:\n- name: app\n  env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db\n        key: password\n",
    },
    build: no_params::<SecretEnvVars>,
};

#[derive(Debug, Default)]
struct SecretEnvVars;

/// Words that make a name look like a secret (upper-case).
const SECRET_WORDS: [&str; 9] = [
    "API_KEY",
    "APIKEY",
    "CREDENTIAL",
    "PASSWORD",
    "PASSWD",
    "PRIVATE_KEY",
    "PRIVATEKEY",
    "SECRET",
    "TOKEN",
];

/// Suffixes of names that point at a secret rather than hold it (`POSTGRES_PASSWORD_FILE`).
const REFERENCE_SUFFIXES: [&str; 4] = ["_FILE", "_PATH", "_DIR", "_URL"];

/// Upper-case, with `-` and `.` read as `_`, so `api-key` and `Api.Key` match `API_KEY`.
const fn normalize(b: u8) -> u8 {
    match b {
        b'-' | b'.' => b'_',
        _ => b.to_ascii_uppercase(),
    }
}

/// Whether `word` (upper-case) occurs in `name` at `at`, compared through `normalize`.
fn word_at(name: &[u8], at: usize, word: &str) -> bool {
    name.get(at..at + word.len()).is_some_and(|window| {
        window
            .iter()
            .zip(word.as_bytes())
            .all(|(&b, &w)| normalize(b) == w)
    })
}

/// For each byte, the [`SECRET_WORDS`] whose letter at `position` it is (through `normalize`),
/// as bits.
const fn letter_table(position: usize) -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut b = 0;
    while b < 256 {
        let letter = normalize(b as u8);
        let mut w = 0;
        while w < SECRET_WORDS.len() {
            if SECRET_WORDS[w].as_bytes()[position] == letter {
                table[b] |= 1 << w;
            }
            w += 1;
        }
        b += 1;
    }
    table
}

/// The words each byte can begin, and the words each byte can continue as their second letter.
const FIRST: [u16; 256] = letter_table(0);
const SECOND: [u16; 256] = letter_table(1);

// Runs for every literal env var of every container, so it neither allocates nor calls memcmp:
// two table lookups and an AND per position (a word is compared only where its first two
// letters occur: `FEATURE_FLAG_APP` compares one word once), as this rule was the engine's hottest.
fn looks_like_secret(name: &str) -> bool {
    let bytes = name.as_bytes();
    let has_word = bytes.windows(2).enumerate().any(|(at, pair)| {
        let mut words = FIRST[usize::from(pair[0])] & SECOND[usize::from(pair[1])];
        while words != 0 {
            let w = words.trailing_zeros() as usize;
            words &= words - 1;
            if word_at(bytes, at, SECRET_WORDS[w]) {
                return true;
            }
        }
        false
    });
    has_word
        && !REFERENCE_SUFFIXES
            .iter()
            .any(|s| bytes.len() >= s.len() && word_at(bytes, bytes.len() - s.len(), s))
}

/// An env var's `name` when it looks like a secret and the var has a literal `value` (set, not
/// null, not `""`). This runs for every env var of every container and most names are ordinary,
/// so one walk of the keys stops at an ordinary `name`: serde_json's maps are sorted (the
/// workspace never enables `preserve_order`; a test below would catch it), so `name` comes
/// before `value`: the walk ends at an ordinary `name` without looking `value` up at all.
fn literal_secret(env: &Map<String, Value>) -> Option<&str> {
    let mut name = None;
    for (key, value) in env {
        match key.as_str() {
            "name" => name = Some(value.as_str().filter(|n| looks_like_secret(n))?),
            "value" => return name.filter(|_| !value.is_null() && value.as_str() != Some("")),
            _ => {}
        }
    }
    None
}

/// Reads, for every env var of every container, what [`literal_secret`] reads first: the map's
/// node (its length, first key and first value), the first byte of that key's text (normally
/// `name`) and of that value's text (normally the env var's name). Every node's address comes from
/// the env list, not from another env var, and its only branches are on the values' types and
/// lengths (predictable, never on what a name says), so the processor has the cache misses of many
/// env vars in flight at once; in the rule's own loop each env var's name test sits between one
/// var's misses and the next's, and they are taken one after the other. An object read long ago
/// (the engine bench's, a cache's) is mostly not in cache: this rule was a fifth of the engine's
/// time, mostly waiting on these loads. (Such a pass over the whole object, or over every key of
/// the containers, did not gain: it reads far more, and branches on every value's type.) On an
/// object just parsed it costs a few hundred instructions.
fn warm_env(w: &WorkloadView<'_>) {
    let mut seen = 0u8;
    for c in w.containers() {
        for env in c.env() {
            let Some((key, value)) = env.as_object().and_then(|m| m.iter().next()) else {
                continue;
            };
            seen ^= key.as_bytes().first().copied().unwrap_or(0);
            if let Some(text) = value.as_str() {
                seen ^= text.as_bytes().first().copied().unwrap_or(0);
            }
        }
    }
    std::hint::black_box(seen);
}

impl Rule for SecretEnvVars {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        warm_env(w);
        for c in w.containers() {
            for (i, env) in c.env().iter().enumerate() {
                let Some(env) = env.as_object() else { continue };
                if let Some(name) = literal_secret(env) {
                    // Never echo the value: findings end up in logs, reports and events.
                    out.push(container_violation_indexed(
                        c,
                        "env",
                        i,
                        ".value",
                        format_args!(
                            "sets env var {}, which looks like a secret, to a literal value",
                            Quoted(name)
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{literal_secret, looks_like_secret};
    use crate::governance::rules::testing::{
        KINDS, assert_passes, assert_violation, check, spec_path, workload,
    };

    #[test]
    fn secret_names_are_recognised_case_insensitively() {
        for name in [
            "DB_PASSWORD",
            "db-passwd",
            "github_token",
            "Stripe_Api_Key",
            "APIKEY",
            "TLS_PRIVATE_KEY",
            "sshPrivateKey",
            "AWS_CREDENTIALS",
            "client.secret",
            "TOKEN",
            "xTOKEN",
            "PASSWD",
            "api-key",
        ] {
            assert!(looks_like_secret(name), "{name}");
        }
        for name in [
            "POSTGRES_PASSWORD_FILE",
            "TOKEN_URL",
            "SECRETS_DIR",
            "LOG_LEVEL",
            "KEYCLOAK_REALM",
            "T",
            "",
            "TOKE",
            "PASSWOR",
            "API.KE",
        ] {
            assert!(!looks_like_secret(name), "{name}");
        }
    }

    #[test]
    fn literal_secret_values_fail_without_echoing_them() {
        let spec = "initContainers: [{name: init, env: [{name: MIGRATE_TOKEN, value: s3cr3t-init}]}]\n\
                    containers:\n- name: app\n  env:\n  - {name: LOG_LEVEL, value: debug}\n  \
                    - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: p}}}\n  \
                    - {name: api_key, value: s3cr3t-app}\n\
                    ephemeralContainers: [{name: dbg, env: [{name: ADMIN_PASSWORD, value: s3cr3t-dbg}]}]";
        for kind in KINDS {
            let v = check("secret-env-vars", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "initContainers[0].env[0].value"),
                Some("init"),
            );
            assert_violation(
                &v[1],
                &spec_path(kind, "containers[0].env[2].value"),
                Some("app"),
            );
            assert_violation(
                &v[2],
                &spec_path(kind, "ephemeralContainers[0].env[0].value"),
                Some("dbg"),
            );
            assert!(v[1].message.contains("\"api_key\""));
            assert!(
                v.iter().all(|v| !v.message.contains("s3cr3t")),
                "a secret value leaked: {v:#?}"
            );
        }
    }

    #[test]
    fn only_a_secret_looking_name_with_a_literal_value_is_reported() {
        use serde_json::json;
        for (env, want) in [
            (json!({"name": "A_TOKEN", "value": "x"}), Some("A_TOKEN")),
            (json!({"name": "A_TOKEN", "value": 5}), Some("A_TOKEN")),
            (
                json!({"value": "x", "name": "db_password"}),
                Some("db_password"),
            ),
            (json!({"name": "A_TOKEN", "value": ""}), None),
            (json!({"name": "A_TOKEN", "value": null}), None),
            (json!({"name": "A_TOKEN"}), None),
            (
                json!({"name": "A_TOKEN", "valueFrom": {"secretKeyRef": {}}}),
                None,
            ),
            (json!({"name": "MODE", "value": "prod"}), None),
            // Keys that only resemble `name` and `value`.
            (
                json!({"nam": "A_TOKEN", "names": "B_TOKEN", "valu": "y", "value": "x"}),
                None,
            ),
            (json!({"name": "A_TOKEN", "valu": "y", "values": "x"}), None),
            (json!({"name": 7, "value": "x"}), None),
            (json!({}), None),
        ] {
            let map = env.as_object().expect("object");
            assert_eq!(literal_secret(map), want, "{env}");
        }
    }

    #[test]
    fn secret_references_and_harmless_names_pass() {
        let spec = "containers:\n- name: app\n  env:\n  - {name: DB_PASSWORD, valueFrom: {secretKeyRef: {name: db, key: p}}}\n  \
                    - {name: DB_PASSWORD_FILE, value: /run/secrets/db}\n  - {name: EMPTY_TOKEN, value: ''}\n  \
                    - {name: MODE, value: prod}";
        assert_passes("secret-env-vars", spec);
    }
}
