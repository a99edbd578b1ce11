//! Quick actions from the console end to end, in a real terminal (`kube-guardian tui` in tmux
//! against a real control plane): an exception created from a violation turns it waived; a
//! policy switched to Deny after the enforcement preview lists the workload it would stop.

use guardian_core::crd::{Enforcement, GuardianPolicy};
use guardian_testenv::operator_process::OperatorProcess;
use kube::api::Api;

#[path = "support/console_edit.rs"]
mod console_edit;

use console_edit::{
    BIN, CONTEXT, DEADLINE, ok, plane, policies, privileged_pod, seed, shop_namespace, shop_pod,
    start_console,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exception_created_from_a_violation_waives_it_and_ctrl_d_revokes_it() {
    use guardian_core::crd::GuardianException;

    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let cp = plane().await;
    let client = seed(&cp).await;
    privileged_pod(&client).await;
    let term = start_console(cp.kubeconfig_path(), dir, &dir.join("state"), &[]);
    ok(
        term.wait_for_text("Synced", DEADLINE).await,
        "the Fleet",
        dir,
    );
    term.send_keys(&[":"]).expect("keys");
    term.send_text("violations").expect("keys");
    term.send_keys(&["Enter"]).expect("keys");
    ok(
        term.wait_for_text("Pod/root", DEADLINE).await,
        "the violation",
        dir,
    );
    term.send_keys(&["x"]).expect("keys");
    ok(
        term.wait_for_text("owner:", DEADLINE).await,
        "the form",
        dir,
    );
    term.send_text("team-shop").expect("keys");
    term.send_keys(&["Enter"]).expect("keys");
    term.send_text("migrating off root").expect("keys");
    // The expiry keeps its default (90 days); Enter on the last field: review.
    term.send_keys(&["Enter", "Enter"]).expect("keys");
    let confirm = ok(
        term.wait_for_text("y apply", DEADLINE).await,
        "the confirm",
        dir,
    );
    assert!(confirm.contains("owner: team-shop"), "{confirm}");
    term.send_keys(&["y"]).expect("keys");
    ok(
        term.wait_for("the violation waived", DEADLINE, |s| {
            s.lines()
                .any(|l| l.contains("Pod/root") && l.contains("waived"))
        })
        .await,
        "the waived violation",
        dir,
    );
    let exceptions = Api::<GuardianException>::namespaced(client, "e2e-shop");
    // Named after the workload and rule, with a suffix (an expired one may hold the bare name).
    let list = exceptions
        .list(&Default::default())
        .await
        .expect("the exceptions");
    let [made] = list.items.as_slice() else {
        panic!("one exception: {:?}", list.items);
    };
    let name = made.metadata.name.clone().unwrap_or_default();
    assert!(name.starts_with("root-pss-privileged-"), "{name}");
    assert_eq!(made.spec.owner, "team-shop");
    assert_eq!(made.spec.justification, "migrating off root");
    let days =
        (made.spec.expires_at.0 - k8s_openapi::jiff::Timestamp::now()).get_seconds() / 86_400;
    assert!((89..=90).contains(&days), "{days} days");

    // Revoked from the Policies screen (exceptions come after policies): the violation is back.
    policies(&term, dir).await;
    term.send_keys(&["G", "C-d"]).expect("keys");
    ok(
        term.wait_for_text(
            &format!("Delete GuardianException e2e-shop/{name}?"),
            DEADLINE,
        )
        .await,
        "the revoke dialog",
        dir,
    );
    term.send_keys(&["y"]).expect("keys");
    ok(
        term.wait_for("the exception gone", DEADLINE, |s| {
            !s.contains("root-pss-privileged")
        })
        .await,
        "the revoked exception",
        dir,
    );
    assert!(exceptions.get_opt(&name).await.expect("read").is_none());
    term.send_keys(&["q"]).expect("keys");
    ok(term.wait_for_exit(DEADLINE).await, "quitting", dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switching_to_deny_previews_what_it_would_stop_then_switches() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let cp = plane().await;
    let client = seed(&cp).await;
    shop_namespace(&client).await;
    for (name, privileged) in [("root", true), ("plain", false)] {
        shop_pod(&client, name, privileged).await;
    }
    let _operator = OperatorProcess::builder(BIN, cp.kubeconfig_path(), CONTEXT)
        .name("operator")
        .start(dir)
        .expect("the operator starts");
    let term = start_console(cp.kubeconfig_path(), dir, &dir.join("state"), &[]);
    ok(
        term.wait_for_text("Synced", DEADLINE).await,
        "the Fleet",
        dir,
    );
    policies(&term, dir).await;
    // The preview reads the console's last evaluation: "Synced" means the watches are, not
    // that the pods were evaluated yet.
    ok(
        term.wait_for("the violation counted", DEADLINE, |s| {
            violations_shown(s, "no-privileged") == Some(1)
        })
        .await,
        "the evaluation",
        dir,
    );
    term.send_keys(&["m"]).expect("keys");
    ok(
        term.wait_for_text("Enter preview", DEADLINE).await,
        "the choice",
        dir,
    );
    // Letters choose nothing (`d` is describe on Policies): the arrows and Enter do.
    term.send_keys(&["d", "Down", "Down", "Enter"])
        .expect("keys");
    let preview = ok(
        term.wait_for_text("type deny", DEADLINE).await,
        "the preview",
        dir,
    );
    assert!(preview.contains("1 workload(s) in e2e-edit"), "{preview}");
    assert!(
        preview.contains("Pod/e2e-shop/root (pss-privileged)"),
        "{preview}"
    );
    assert!(!preview.contains("plain"), "{preview}");
    // Deny is typed, a stray `y` is not enough.
    term.send_keys(&["y", "Enter", "d", "e", "n", "y", "Enter"])
        .expect("keys");
    ok(
        term.wait_for("the switch reconciled", DEADLINE, |s| {
            s.lines()
                .any(|l| l.contains("no-privileged") && l.contains("Deny") && l.contains("2/2"))
        })
        .await,
        "the switched policy",
        dir,
    );
    let now = Api::<GuardianPolicy>::all(client)
        .get("no-privileged")
        .await
        .expect("read");
    assert_eq!(now.spec.enforcement, Enforcement::Deny);
    term.send_keys(&["q"]).expect("keys");
    ok(term.wait_for_exit(DEADLINE).await, "quitting", dir);
}

/// The VIOL column of `policy`'s row on the Policies screen (the token after GEN/OBS, like
/// `1/1` or `1/- pending`), once the console evaluated the cluster.
pub fn violations_shown(screen: &str, policy: &str) -> Option<u64> {
    let line = screen
        .lines()
        .find(|l| l.contains("POL ") && l.contains(policy))?;
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let generations = tokens.iter().position(|t| {
        t.split_once('/')
            .is_some_and(|(a, _)| !a.is_empty() && a.chars().all(|c| c.is_ascii_digit()))
    })?;
    tokens[generations + 1..]
        .iter()
        .find(|t| **t != "pending")?
        .parse()
        .ok()
}
