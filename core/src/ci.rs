//! Whether we run in CI: one rule for the Makefile, the test harness and the binary.
//!
//! `CI` is on when it is set to anything but an empty value, `0` or `false` (case-insensitive,
//! surrounding whitespace ignored). CI services set `CI=true` (GitHub, GitLab, CircleCI, Travis,
//! Buildkite) or `CI=1`; some set other words (`yes`, `True`). Erring towards "on" is the safe
//! side: in CI, cluster tests cannot be skipped and missing tools fail instead of being
//! skipped. The Makefile's `ci_on` computes the same (a test keeps them in step).

/// The rule on a value of the `CI` variable (`None` when unset).
pub fn is_on(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        let v = v.trim();
        !(v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false"))
    })
}

/// The rule on this process's environment. A value that is not UTF-8 is set, so on.
pub fn from_env() -> bool {
    match std::env::var_os("CI") {
        None => false,
        Some(value) => is_on(Some(&value.to_string_lossy())),
    }
}

#[cfg(test)]
mod tests {
    use super::is_on;

    #[test]
    fn set_means_on_except_empty_zero_and_false() {
        for on in [
            "true",
            "1",
            "yes",
            "TRUE",
            "on",
            "  true ",
            "false true",
            "no",
        ] {
            assert!(is_on(Some(on)), "{on:?}");
        }
        for off in ["", " ", "0", "false", "False", "FALSE", " false "] {
            assert!(!is_on(Some(off)), "{off:?}");
        }
        assert!(!is_on(None));
    }
}
