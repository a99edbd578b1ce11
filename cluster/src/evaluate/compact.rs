//! Findings as a snapshot keeps them: every buffer exactly as long as what it holds.
//!
//! The engine grows its buffers as it goes: the findings vector doubles, and `format!` guesses a
//! message's capacity from its template. Fine for one evaluation, but a snapshot keeps every
//! object's findings for as long as the cluster shows them (hundreds of thousands at 10,000
//! Pods), so the slack was kept too (about 30% of the findings' memory, measured with heaptrack
//! in `benches/tui_memory.rs`). Each buffer with slack is copied into a fresh allocation of its
//! length, once per evaluation: `shrink_to_fit` would not do, as mimalloc keeps a block where it
//! is when it shrinks by less than half.

use guardian_core::model::{Finding, Outcome};

/// `findings` in a vector of exactly their number, each one's texts exactly their length.
pub(super) fn findings(findings: Vec<Finding>) -> Vec<Finding> {
    let mut exact = Vec::with_capacity(findings.len());
    exact.extend(findings.into_iter().map(finding));
    exact
}

/// `items` in a vector of exactly their number (an in-place `collect` would keep the capacity of
/// the vector it came from).
pub(super) fn vec<T>(items: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut exact = Vec::with_capacity(items.len());
    exact.extend(items);
    exact
}

fn finding(mut finding: Finding) -> Finding {
    finding.message = text(finding.message);
    finding.path = text(finding.path);
    finding.container = finding.container.map(text);
    if let Outcome::Skip {
        exception,
        justification,
    } = finding.outcome
    {
        finding.outcome = Outcome::Skip {
            exception: text(exception),
            justification: text(justification),
        };
    }
    finding
}

fn text(text: String) -> String {
    if text.capacity() == text.len() {
        text
    } else {
        text.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use guardian_core::model::{Category, ResourceRef, RuleRef, Severity};

    use super::*;

    fn roomy(text: &str) -> String {
        let mut s = String::with_capacity(text.len() * 3);
        s.push_str(text);
        s
    }

    fn loose_finding(outcome: Outcome) -> Finding {
        Finding {
            rule: RuleRef::shared(
                "p",
                "r",
                Severity::High,
                Category::Security,
                "set privileged: false",
            ),
            resource: Arc::new(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
            }),
            container: Some(roomy("app")),
            message: roomy("container app must not run privileged"),
            path: roomy("spec.containers[0].securityContext.privileged"),
            outcome,
            location: None,
        }
    }

    #[test]
    fn findings_keep_their_content_in_exact_buffers() {
        let skip = Outcome::Skip {
            exception: roomy("shop/legacy"),
            justification: roomy("until the migration"),
        };
        let mut loose = Vec::with_capacity(16);
        loose.push(loose_finding(Outcome::Fail));
        loose.push(loose_finding(skip));
        let expected = loose.clone();
        let exact = findings(loose);
        assert_eq!(exact, expected, "the same findings");
        assert_eq!(exact.capacity(), exact.len());
        for f in &exact {
            let container = f.container.as_ref().expect("a container");
            for s in [&f.message, &f.path, container] {
                assert_eq!(s.capacity(), s.len(), "{s:?}");
            }
        }
        let Outcome::Skip {
            exception,
            justification,
        } = &exact[1].outcome
        else {
            panic!("still skipped: {:?}", exact[1].outcome);
        };
        assert_eq!(exception.capacity(), exception.len());
        assert_eq!(justification.capacity(), justification.len());
    }

    #[test]
    fn vectors_hold_exactly_their_items() {
        let mut roomy = Vec::with_capacity(64);
        roomy.extend(["a", "b", "c"]);
        let exact = vec(roomy.into_iter().map(str::to_owned));
        assert_eq!(exact, ["a", "b", "c"]);
        assert_eq!(exact.capacity(), 3);
    }
}
