//! Shared by the console's editing end-to-end tests (`tui_edit_e2e`, `tui_quick_e2e`): a
//! control plane seeded with a policy, the console in tmux with a scripted `$EDITOR` and its
//! own state dir, and waiting on the screen. Included with
//! `#[path = "support/console_edit.rs"] mod console_edit;`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::ControlPlane;
use guardian_testenv::tmux::Tmux;
use kube::api::{Api, PostParams};

/// Generous: a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(90);
pub const CONTEXT: &str = "e2e-edit";
pub const BIN: &str = env!("CARGO_BIN_EXE_kube-guardian");

/// The CRDs and an Audit policy with one rule.
pub async fn seed(cp: &ControlPlane) -> kube::Client {
    guardian_testenv::demo::install_crds(cp)
        .await
        .expect("CRDs");
    let client = cp.client().expect("client");
    let policy: GuardianPolicy = serde_json::from_value(serde_json::json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1", "kind": "GuardianPolicy",
        "metadata": {"name": "no-privileged"},
        "spec": {"enforcement": "Audit", "rules": [{"id": "pss-privileged"}]}
    }))
    .expect("policy");
    Api::<GuardianPolicy>::all(client.clone())
        .create(&PostParams::default(), &policy)
        .await
        .expect("policy");
    client
}

/// `$EDITOR`: changes the file as `<dir>/mode` says (`deny`: Audit → Deny; `invalid`: breaks
/// the YAML, and leaves it as it is when reopened), and records each opening.
pub fn editor_script(dir: &Path) -> PathBuf {
    let script = dir.join("editor.sh");
    let text = format!(
        "#!/bin/sh\necho \"$1\" >> '{opened}'\ncase \"$(cat '{mode}')\" in\n\
         deny) sed -i 's/enforcement: Audit/enforcement: Deny/' \"$1\" ;;\n\
         invalid) sed -i 's/^  enforcement: Deny$/  enforcement: [Deny/' \"$1\" ;;\nesac\n",
        opened = dir.join("opened").display(),
        mode = dir.join("mode").display(),
    );
    std::fs::write(&script, text).expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

pub fn start_console(kubeconfig: &Path, dir: &Path, state: &Path, extra: &[&str]) -> Tmux {
    let editor = editor_script(dir);
    let log = dir.join(format!("console{}.log", extra.join("")));
    Tmux::builder(BIN)
        .args(["tui", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--contexts", CONTEXT, "--log-file"])
        .arg(&log)
        .args(extra.iter().copied())
        // The script is the editor whatever the machine's own settings.
        .env("KUBE_EDITOR", "")
        .env("VISUAL", "")
        .env("EDITOR", &editor.display().to_string())
        .env("XDG_STATE_HOME", &state.display().to_string())
        .start()
        .expect("tmux starts the console")
}

pub fn ok<T>(result: Result<T, guardian_testenv::Error>, what: &str, dir: &Path) -> T {
    result.unwrap_or_else(|e| {
        let log = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        panic!(
            "{what}: {e:?}\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    })
}

pub async fn policies(term: &Tmux, dir: &Path) -> String {
    term.send_keys(&[":"]).expect("keys");
    term.send_text("policies").expect("keys");
    term.send_keys(&["Enter"]).expect("keys");
    ok(
        term.wait_for("the policy on Policies", DEADLINE, |s| {
            s.contains("no-privileged") && s.contains("GEN/OBS")
        })
        .await,
        "the Policies screen",
        dir,
    )
}

/// A local control plane named [`CONTEXT`].
pub async fn plane() -> ControlPlane {
    ControlPlane::builder()
        .context_name(CONTEXT)
        .use_existing_cluster(false)
        .start()
        .await
        .expect("a local control plane")
}

/// The namespace the seeded workloads live in.
pub const SHOP: &str = "e2e-shop";

/// Creates [`SHOP`].
pub async fn shop_namespace(client: &kube::Client) {
    use k8s_openapi::api::core::v1::Namespace;

    let namespace: Namespace =
        serde_json::from_value(serde_json::json!({"metadata": {"name": SHOP}})).expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .expect("namespace");
}

/// A Pod in [`SHOP`], privileged or not (the seeded policy's one rule).
pub async fn shop_pod(client: &kube::Client, name: &str, privileged: bool) {
    use k8s_openapi::api::core::v1::Pod;

    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "registry.example.com/c:1",
                                 "securityContext": {"privileged": privileged}}]}
    }))
    .expect("pod");
    Api::<Pod>::namespaced(client.clone(), SHOP)
        .create(&PostParams::default(), &pod)
        .await
        .expect("pod");
}

/// A privileged Pod `root` in [`SHOP`]: a violation of the seeded policy.
pub async fn privileged_pod(client: &kube::Client) {
    shop_namespace(client).await;
    shop_pod(client, "root", true).await;
}
