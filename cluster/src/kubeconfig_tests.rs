use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;

/// A kubeconfig with one cluster, user and context per `(context, server)`, and `current`.
fn kubeconfig(contexts: &[(&str, &str)], current: Option<&str>) -> String {
    let mut yaml = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, server) in contexts {
        yaml.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {server}\n"
        ));
    }
    yaml.push_str("users:\n");
    for (name, _) in contexts {
        yaml.push_str(&format!(
            "- name: {name}\n  user:\n    token: token-{name}\n"
        ));
    }
    yaml.push_str("contexts:\n");
    for (name, _) in contexts {
        yaml.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n"
        ));
    }
    if let Some(current) = current {
        yaml.push_str(&format!("current-context: {current}\n"));
    }
    yaml
}

fn write(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).expect("write a kubeconfig");
    path
}

fn names(targets: &[Target]) -> Vec<(&str, Option<&str>)> {
    targets
        .iter()
        .map(|t| (t.context.as_str(), t.server.as_deref()))
        .collect()
}

fn env_list(paths: &[&Path]) -> Option<OsString> {
    Some(std::env::join_paths(paths).expect("paths join"))
}

#[test]
fn merged_files_keep_the_first_definition_of_each_name_and_its_current_context() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = write(
        dir.path(),
        "first",
        &kubeconfig(
            &[("shared", "https://first:6443"), ("a", "https://a:6443")],
            Some("a"),
        ),
    );
    let second = write(
        dir.path(),
        "second",
        &kubeconfig(
            &[("shared", "https://second:6443"), ("b", "https://b:6443")],
            Some("b"),
        ),
    );
    let selection = ContextSelection {
        kubeconfigs: vec![first, second],
        all_contexts: true,
        ..ContextSelection::default()
    };
    let targets = select_with(&selection, None, None).expect("select");
    assert_eq!(
        names(&targets),
        vec![
            ("shared", Some("https://first:6443")),
            ("a", Some("https://a:6443")),
            ("b", Some("https://b:6443")),
        ]
    );
    let current = ContextSelection {
        all_contexts: false,
        ..selection
    };
    let targets = select_with(&current, None, None).expect("select");
    assert_eq!(names(&targets), vec![("a", Some("https://a:6443"))]);
}

#[test]
fn the_kubeconfig_variable_lists_several_files_and_missing_ones_are_skipped() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = write(
        dir.path(),
        "a",
        &kubeconfig(&[("a", "https://a:6443")], None),
    );
    let b = write(
        dir.path(),
        "b",
        &kubeconfig(&[("b", "https://b:6443")], Some("b")),
    );
    let missing = dir.path().join("missing");
    let env = env_list(&[&a, &missing, &b]);
    let selection = ContextSelection {
        contexts: vec!["b".into(), "a".into(), "b".into()],
        ..ContextSelection::default()
    };
    let targets = select_with(&selection, env.clone(), None).expect("select");
    assert_eq!(
        names(&targets),
        vec![("b", Some("https://b:6443")), ("a", Some("https://a:6443"))],
        "in the order asked, each once"
    );
    // No context named: the current one, set only by the second file.
    let targets = select_with(&ContextSelection::default(), env, None).expect("select");
    assert_eq!(names(&targets), vec![("b", Some("https://b:6443"))]);
}

#[test]
fn kubeconfig_flags_win_over_the_variable_which_wins_over_the_home_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flag = write(
        dir.path(),
        "flag",
        &kubeconfig(&[("flag", "https://f:1")], Some("flag")),
    );
    let var = write(
        dir.path(),
        "var",
        &kubeconfig(&[("var", "https://v:1")], Some("var")),
    );
    let home = dir.path().join("home");
    std::fs::create_dir_all(home.join(".kube")).expect("mkdir");
    write(
        &home.join(".kube"),
        "config",
        &kubeconfig(&[("home", "https://h:1")], Some("home")),
    );

    let explicit = ContextSelection {
        kubeconfigs: vec![flag],
        ..ContextSelection::default()
    };
    let from = |selection: &ContextSelection, env: Option<OsString>| {
        select_with(selection, env, Some(home.clone())).expect("select")[0]
            .context
            .clone()
    };
    assert_eq!(from(&explicit, env_list(&[&var])), "flag");
    assert_eq!(from(&ContextSelection::default(), env_list(&[&var])), "var");
    assert_eq!(from(&ContextSelection::default(), None), "home");
    // An empty variable counts as unset, as for kubectl.
    assert_eq!(
        from(&ContextSelection::default(), Some(OsString::new())),
        "home"
    );
}

#[test]
fn an_unknown_context_names_the_available_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "config",
        &kubeconfig(
            &[("prod", "https://p:1"), ("staging", "https://s:1")],
            Some("prod"),
        ),
    );
    let selection = ContextSelection {
        kubeconfigs: vec![file],
        contexts: vec!["prod".into(), "qa".into()],
        all_contexts: false,
    };
    let err = select_with(&selection, None, None).expect_err("qa is unknown");
    let Error::UnknownContext { name, available } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(name, "qa");
    assert_eq!(available, &["prod", "staging"]);
    assert_eq!(
        err.to_string(),
        "context \"qa\" is not in the kubeconfig; available contexts: prod, staging"
    );
}

#[test]
fn without_a_current_context_the_error_asks_for_one_and_lists_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "config",
        &kubeconfig(&[("x", "https://x:1")], None),
    );
    let selection = ContextSelection {
        kubeconfigs: vec![file],
        ..ContextSelection::default()
    };
    let err = select_with(&selection, None, None).expect_err("no current context");
    assert!(matches!(err, Error::NoCurrentContext { .. }), "{err:?}");
    assert!(err.to_string().contains("available contexts: x"), "{err}");
}

#[test]
fn all_contexts_of_a_kubeconfig_without_any_is_an_error_not_an_empty_scan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(dir.path(), "config", &kubeconfig(&[], None));
    let selection = ContextSelection {
        kubeconfigs: vec![file],
        all_contexts: true,
        ..ContextSelection::default()
    };
    let err = select_with(&selection, None, None).expect_err("no contexts");
    assert!(matches!(err, Error::NoContexts { .. }), "{err:?}");
    assert!(err.to_string().contains("defines no context"), "{err}");
}

#[test]
fn missing_files_are_errors_that_say_where_kubectl_looks() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope");
    let explicit = ContextSelection {
        kubeconfigs: vec![missing.clone()],
        ..ContextSelection::default()
    };
    let err = select_with(&explicit, None, None).expect_err("a named file must exist");
    assert!(err.to_string().contains("nope"), "{err}");
    let err = select_with(&ContextSelection::default(), env_list(&[&missing]), None)
        .expect_err("no file of KUBECONFIG exists");
    assert!(matches!(err, Error::NoKubeconfig { .. }), "{err:?}");
    let err = select_with(&ContextSelection::default(), None, Some(dir.path().into()))
        .expect_err("no ~/.kube/config");
    assert!(err.to_string().contains(".kube/config"), "{err}");
}

#[tokio::test]
async fn each_target_configures_its_own_cluster_and_user_through_kube() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut yaml = kubeconfig(
        &[("a", "https://a:6443"), ("b", "https://b:7443")],
        Some("a"),
    );
    // An exec credential plugin is kube-rs's to run, on the first request.
    yaml = yaml.replace(
        "- name: b\n  user:\n    token: token-b\n",
        "- name: b\n  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: get-token\n      interactiveMode: Never\n",
    );
    let file = write(dir.path(), "config", &yaml);
    let selection = ContextSelection {
        kubeconfigs: vec![file],
        all_contexts: true,
        ..ContextSelection::default()
    };
    let targets = select_with(&selection, None, None).expect("select");
    let a = targets[0].config().await.expect("config a");
    let b = targets[1].config().await.expect("config b");
    assert_eq!(a.cluster_url.to_string(), "https://a:6443/");
    assert!(a.auth_info.token.is_some());
    assert_eq!(b.cluster_url.to_string(), "https://b:7443/");
    assert_eq!(
        b.auth_info.exec.as_ref().and_then(|e| e.command.as_deref()),
        Some("get-token")
    );
}

#[test]
fn a_target_names_the_user_its_context_uses() {
    let dir = tempfile::tempdir().expect("temp dir");
    let yaml = "apiVersion: v1\nkind: Config\n\
        clusters:\n- name: c\n  cluster:\n    server: https://c:6443\n\
        users:\n- name: alice\n  user:\n    token: t\n\
        contexts:\n- name: ctx\n  context:\n    cluster: c\n    user: alice\n\
        current-context: ctx\n";
    let selection = ContextSelection {
        kubeconfigs: vec![write(dir.path(), "config", yaml)],
        ..ContextSelection::default()
    };
    let targets = select_with(&selection, None, None).expect("select");
    let got: Vec<(&str, Option<&str>)> = targets
        .iter()
        .map(|t| (t.context.as_str(), t.user.as_deref()))
        .collect();
    assert_eq!(got, [("ctx", Some("alice"))]);
}
