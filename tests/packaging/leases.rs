//! The chart's Lease permissions against the operator's naming: the ValidatingAdmissionPolicy
//! admits the candidate records the operator writes for every lease name the chart accepts, and
//! `leaderElection.candidates=false` narrows it to the election Lease and drops the verbs only
//! records need.

use guardian_cluster::lease::{
    MAX_LEASE_NAME, candidate_label, candidate_name, lease_name_problem,
};
use serde_json::Value;

use crate::support::{find, kinds, render, template};

const NS: &str = "guardian-system";

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn args(docs: &[Value]) -> Vec<String> {
    let container = &find(docs, "Deployment", None)["spec"]["template"]["spec"]["containers"][0];
    strings(&container["args"])
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The verbs of the leader-election Role's rule without resourceNames (what any name may get).
fn unnamed_lease_verbs(docs: &[Value]) -> Vec<String> {
    let role = find(docs, "Role", Some("kg-kube-guardian-leader-election"));
    let rules = role["rules"].as_array().expect("rules");
    let rule = rules
        .iter()
        .find(|rule| rule.get("resourceNames").is_none())
        .expect("a rule for Leases by any name");
    strings(&rule["verbs"])
        .into_iter()
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_lease_policy_admits_the_records_the_operator_names_for_any_lease_name() {
    let long_pod = format!("kube-guardian-{}-7d9f8c6b5-x2x4z", "p".repeat(200));
    let longest = format!("kube-guardian.{}", "l".repeat(MAX_LEASE_NAME - 14));
    let over_a_label = format!("kube-guardian-operator-of-the-{}", "x".repeat(40));
    for lease in [
        "kube-guardian-operator",
        "ops.kube-guardian",
        over_a_label.as_str(),
        longest.as_str(),
    ] {
        let set = format!("leaderElection.leaseName={lease}");
        let docs = render("kg", NS, &["--set", &set]);
        let checks = policy_checks(&docs);
        let (name_check, label_check) = (&checks[0], &checks[1]);
        let prefix = format!("{lease}-candidate-");
        for pod in ["kube-guardian-7d9f8c6b5-x2x4z", long_pod.as_str()] {
            let name = candidate_name(lease, pod);
            assert!(
                name.starts_with(&prefix) && name.len() <= 253,
                "{lease}: {name}"
            );
        }
        assert!(
            name_check.contains(&format!("request.name.startsWith('{prefix}')")),
            "{lease}: {name_check}"
        );
        let label = candidate_label(lease);
        assert!(
            label_check.contains(&format!("== '{label}')")),
            "{lease}: the policy wants another label than the operator's {label}: {label_check}"
        );
    }
    // One character more and the chart refuses the name (the operator would too).
    let set = format!("leaderElection.leaseName={longest}x");
    let refused = template("kg", NS, &["--set", &set]);
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("leaseName")),
        "{refused:?}"
    );
}

/// The policy's validation expressions.
fn policy_checks(docs: &[Value]) -> Vec<String> {
    let policy = find(docs, "ValidatingAdmissionPolicy", None);
    let checks = policy["spec"]["validations"]
        .as_array()
        .expect("validations");
    checks
        .iter()
        .map(|check| {
            check["expression"]
                .as_str()
                .expect("an expression")
                .to_owned()
        })
        .collect()
}

#[test]
fn candidate_records_off_narrow_the_policy_to_the_election_lease_and_drop_their_verbs() {
    // A missing value (helm upgrade --reuse-values from a release before it existed) is on.
    for extra in [&[][..], &["--set", "leaderElection.candidates=null"]] {
        let on = render("kg", NS, extra);
        assert!(kinds(&on).contains(&"ValidatingAdmissionPolicyBinding".to_owned()));
        assert_eq!(policy_checks(&on).len(), 2, "{extra:?}");
        assert_eq!(
            unnamed_lease_verbs(&on),
            ["create", "list", "patch", "delete"],
            "{extra:?}"
        );
        assert!(
            args(&on).contains(&"--lease-candidates=true".to_owned()),
            "{extra:?}: {:?}",
            args(&on)
        );
    }

    let off = render("kg", NS, &["--set", "leaderElection.candidates=false"]);
    // The Role still creates Leases by any name (RBAC cannot name a create): the policy stays,
    // admitting the election Lease alone.
    assert!(kinds(&off).contains(&"ValidatingAdmissionPolicyBinding".to_owned()));
    assert_eq!(
        policy_checks(&off),
        ["request.name == 'kube-guardian-operator'"]
    );
    assert_eq!(unnamed_lease_verbs(&off), ["create"]);
    let role = find(&off, "Role", Some("kg-kube-guardian-leader-election"));
    let named = role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|rule| rule.get("resourceNames").is_some())
        .expect("the election Lease by name");
    assert_eq!(strings(&named["resourceNames"]), ["kube-guardian-operator"]);
    assert!(args(&off).contains(&"--lease-candidates=false".to_owned()));
}

#[test]
fn the_chart_accepts_the_lease_names_the_operator_accepts_and_no_other() {
    for lease in [
        "kube-guardian-operator",
        "ops.kube-guardian",
        "a.b-c.d",
        "a..b",
        "a.-b",
        "a-.b",
        "-a",
        "a.",
        "A",
    ] {
        let set = format!("leaderElection.leaseName={lease}");
        let chart = template("kg", NS, &["--set", &set]);
        let operator = lease_name_problem(lease);
        assert_eq!(
            chart.is_ok(),
            operator.is_none(),
            "{lease}: the chart says {:?}, the operator {operator:?}",
            chart.as_ref().err()
        );
        if let Err(error) = &chart {
            assert!(error.contains("leaseName"), "{lease}: {error}");
        }
    }
}
