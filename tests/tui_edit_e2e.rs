//! Editing from the console end to end, in a real terminal: `kube-guardian tui` in tmux against
//! a real control plane with `kube-guardian operator` running, `$EDITOR` a script this test
//! writes (sed on the temp file, as a user's editor would change it). An edit changes the
//! policy and the console shows it reconciled; an invalid edit is cancelled with the temp file
//! kept and the error shown; `--readonly` or a missing `update` permission offers no edit.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use guardian_core::crd::{Enforcement, GuardianPolicy};
use guardian_testenv::operator_process::OperatorProcess;
use kube::api::{Api, PostParams};

#[path = "support/console_edit.rs"]
mod console_edit;

use console_edit::{
    BIN, CONTEXT, DEADLINE, ok, plane, policies, privileged_pod, seed, shop_namespace,
    start_console,
};

/// Help's last line: waiting for it, not its header, reads the whole Help (a capture can land
/// while the frame is still being written to the terminal).
const HELP_DRAWN: &str = "screen_contexts";

/// The temp files of edits under the console's state dir.
fn edits(state: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(state.join("kube-guardian/edits"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_in_editor_is_applied_and_reconciled_and_an_invalid_one_is_kept() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let state = dir.join("state");
    let cp = plane().await;
    let client = seed(&cp).await;
    let kubeconfig = cp.kubeconfig_path();
    let _operator = OperatorProcess::builder(BIN, kubeconfig, CONTEXT)
        .name("operator")
        .start(dir)
        .expect("the operator starts");
    let term = start_console(kubeconfig, dir, &state, &[]);
    ok(
        term.wait_for_text("Synced", DEADLINE).await,
        "the Fleet",
        dir,
    );
    policies(&term, dir).await;
    ok(
        term.wait_for("the policy reconciled at generation 1", DEADLINE, |s| {
            s.lines()
                .any(|l| l.contains("no-privileged") && l.contains("Audit") && l.contains("1/1"))
        })
        .await,
        "the first reconcile",
        dir,
    );

    // `e`: the editor changes Audit to Deny; the dialog shows the diff; `y` applies.
    std::fs::write(dir.join("mode"), "deny").expect("mode");
    term.send_keys(&["e"]).expect("keys");
    let dialog = ok(
        term.wait_for_text("y apply", DEADLINE).await,
        "the confirm dialog",
        dir,
    );
    assert!(dialog.contains("+   enforcement: Deny"), "{dialog}");
    assert!(dialog.contains("-   enforcement: Audit"), "{dialog}");
    let opened = std::fs::read_to_string(dir.join("opened")).expect("the editor ran");
    let file = PathBuf::from(opened.trim());
    assert!(
        file.starts_with(state.join("kube-guardian/edits")),
        "{opened}"
    );
    term.send_keys(&["y"]).expect("keys");
    let shown = ok(
        term.wait_for("the operator's verdict", DEADLINE, |s| {
            s.contains("no-privileged reconciled in e2e-edit: Ready")
        })
        .await,
        "the verdict",
        dir,
    );
    ok(
        term.wait_for("the row at generation 2, reconciled", DEADLINE, |s| {
            s.lines()
                .any(|l| l.contains("no-privileged") && l.contains("Deny") && l.contains("2/2"))
        })
        .await,
        "the reconciled row",
        dir,
    );
    let now = Api::<GuardianPolicy>::all(client.clone())
        .get("no-privileged")
        .await
        .expect("read");
    assert_eq!(now.spec.enforcement, Enforcement::Deny, "{shown}");
    assert!(!file.exists(), "the temp file is removed once applied");

    // An invalid edit: reopened with the error, closed unchanged: cancelled, the file kept.
    std::fs::write(dir.join("mode"), "invalid").expect("mode");
    std::fs::remove_file(dir.join("opened")).expect("reset");
    term.send_keys(&["e"]).expect("keys");
    let message = ok(
        term.wait_for_text("cancelled", DEADLINE).await,
        "the cancelled edit",
        dir,
    );
    assert!(message.contains("invalid YAML"), "{message}");
    assert!(message.contains("kept in"), "{message}");
    let opened = std::fs::read_to_string(dir.join("opened")).expect("the editor ran");
    assert_eq!(opened.lines().count(), 2, "reopened once: {opened}");
    let kept = edits(&state);
    assert_eq!(kept.len(), 1, "{kept:?}");
    let text = std::fs::read_to_string(&kept[0]).expect("kept");
    assert!(
        text.contains("enforcement: [Deny"),
        "the user's text: {text}"
    );
    assert!(
        text.contains("# The edit of GuardianPolicy no-privileged cannot be applied"),
        "{text}"
    );
    let mode = std::fs::metadata(&kept[0])
        .expect("kept")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    term.send_keys(&["Escape"]).expect("keys");
    ok(
        term.wait_for("the dialog closed", DEADLINE, |s| !s.contains("cancelled"))
            .await,
        "closing the dialog",
        dir,
    );
    let unchanged = Api::<GuardianPolicy>::all(client)
        .get("no-privileged")
        .await
        .expect("read");
    assert_eq!(unchanged.metadata.generation, Some(2), "nothing written");
    term.send_keys(&["q"]).expect("keys");
    ok(term.wait_for_exit(DEADLINE).await, "quitting", dir);
    // The read-only test's positive control: a handled `e` is logged.
    let log = std::fs::read_to_string(dir.join("console.log")).expect("the log");
    assert!(log.contains("edit requested"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readonly_offers_no_edit() {
    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let state = dir.join("state");
    let cp = plane().await;
    let client = seed(&cp).await;
    std::fs::write(dir.join("mode"), "deny").expect("mode");
    privileged_pod(&client).await;
    let term = start_console(cp.kubeconfig_path(), dir, &state, &["--readonly"]);
    ok(
        term.wait_for_text("Synced", DEADLINE).await,
        "the Fleet",
        dir,
    );
    let screen = policies(&term, dir).await;
    let hints = screen
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_default();
    assert!(
        hints.contains("<y> yaml") && !hints.contains("edit"),
        "{hints}"
    );
    // `m` and `x` open their dialog in the reducer, which would take the `?`: Help showing means
    // they did nothing. `e` logs "edit requested" when it is handled (the edit test's positive
    // control); its log is read once the console has quit (the log is flushed by then).
    term.send_keys(&["e", "m", "?"]).expect("keys");
    let help = ok(term.wait_for_text(HELP_DRAWN, DEADLINE).await, "Help", dir);
    assert!(!help.contains("$EDITOR"), "no edit line in Help: {help}");
    assert!(!help.contains("Enter preview"), "m chose nothing: {help}");
    // (Not Escape then V: a terminal reads them as Alt-V.)
    term.send_keys(&[":"]).expect("keys");
    term.send_text("violations").expect("keys");
    term.send_keys(&["Enter"]).expect("keys");
    ok(
        term.wait_for_text("Pod/root", DEADLINE).await,
        "the violation",
        dir,
    );
    term.send_keys(&["x", "?"]).expect("keys");
    let help = ok(
        term.wait_for_text(HELP_DRAWN, DEADLINE).await,
        "Help after x",
        dir,
    );
    assert!(!help.contains("owner:"), "x opened no form: {help}");
    term.send_keys(&["q"]).expect("keys");
    ok(term.wait_for_exit(DEADLINE).await, "quitting", dir);
    assert!(!dir.join("opened").exists(), "e opened no editor");
    let log = std::fs::read_to_string(dir.join("console--readonly.log")).expect("the log");
    assert!(
        log.contains("console starting"),
        "the log is the console's: {log}"
    );
    assert!(!log.contains("edit requested"), "e was handled: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_permission_the_edit_and_a_revoke_are_explained_and_not_attempted() {
    use guardian_core::crd::GuardianException;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};

    if !guardian_testenv::local_plane_wanted().expect("cluster test switches") {
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let cp = plane().await;
    let client = seed(&cp).await;
    // A user who may read everything and change nothing.
    let role: ClusterRole = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "read-everything"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]}]
    }))
    .expect("role");
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await
        .expect("role");
    let binding: ClusterRoleBinding = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "viewer-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "read-everything"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}]
    }))
    .expect("binding");
    Api::<ClusterRoleBinding>::all(client.clone())
        .create(&PostParams::default(), &binding)
        .await
        .expect("binding");
    // An exception the viewer sees and may not revoke.
    shop_namespace(&client).await;
    let expires =
        k8s_openapi::jiff::Timestamp::now() + k8s_openapi::jiff::SignedDuration::from_hours(24);
    let exception: GuardianException = serde_json::from_value(serde_json::json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianException",
        "metadata": {"name": "root-pss-privileged", "namespace": "e2e-shop"},
        "spec": {"policy": "no-privileged", "rules": ["pss-privileged"],
                 "resources": {"kinds": ["Pod"], "names": ["root"]},
                 "owner": "team-shop", "justification": "migrating",
                 "expiresAt": expires.to_string()}
    }))
    .expect("exception");
    Api::<GuardianException>::namespaced(client.clone(), "e2e-shop")
        .create(&PostParams::default(), &exception)
        .await
        .expect("exception");
    let kubeconfig = dir.join("viewer.kubeconfig");
    cp.write_kubeconfig_for_user("viewer", &[], &kubeconfig)
        .expect("the viewer's kubeconfig");
    std::fs::write(dir.join("mode"), "deny").expect("mode");
    let term = start_console(&kubeconfig, dir, &dir.join("state"), &[]);
    ok(
        term.wait_for_text("Synced", DEADLINE).await,
        "the Fleet",
        dir,
    );
    policies(&term, dir).await;
    term.send_keys(&["e"]).expect("keys");
    let message = ok(
        term.wait_for_text("no permission to update", DEADLINE)
            .await,
        "the explanation",
        dir,
    );
    assert!(
        message.contains("guardianpolicies.guardian.kube-guardian.dev"),
        "{message}"
    );
    assert!(!dir.join("opened").exists(), "no editor was opened");
    assert!(
        std::fs::read_dir(dir.join("state/kube-guardian/edits")).is_err(),
        "no temp file was written"
    );
    // Apart: Esc then q at once reads as Alt-q.
    term.send_keys(&["Escape"]).expect("keys");
    ok(
        term.wait_for("the dialog closed", DEADLINE, |s| {
            !s.contains("no permission")
        })
        .await,
        "closing the dialog",
        dir,
    );
    // Quick actions are reviewed the same way: revoking (delete) the exception, the last row.
    term.send_keys(&["G", "C-d"]).expect("keys");
    ok(
        term.wait_for_text(
            "Delete GuardianException e2e-shop/root-pss-privileged?",
            DEADLINE,
        )
        .await,
        "the revoke dialog",
        dir,
    );
    term.send_keys(&["y"]).expect("keys");
    let message = ok(
        term.wait_for_text("no permission to delete", DEADLINE)
            .await,
        "the revoke explained",
        dir,
    );
    assert!(
        message.contains("guardianexceptions.guardian.kube-guardian.dev in namespace e2e-shop"),
        "{message}"
    );
    assert!(
        Api::<GuardianException>::namespaced(client, "e2e-shop")
            .get_opt("root-pss-privileged")
            .await
            .expect("read")
            .is_some(),
        "not revoked"
    );
    term.send_keys(&["Escape"]).expect("keys");
    ok(
        term.wait_for("the dialog closed", DEADLINE, |s| {
            !s.contains("no permission")
        })
        .await,
        "closing the dialog",
        dir,
    );
    term.send_keys(&["q"]).expect("keys");
    ok(term.wait_for_exit(DEADLINE).await, "quitting", dir);
}
