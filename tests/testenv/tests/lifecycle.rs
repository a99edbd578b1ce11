//! Starting, restarting, breaking and stopping control planes. Each test that restarts or
//! breaks one owns it; the failure-path tests use fake binaries and need no build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use guardian_testenv::{ControlPlane, Error};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, Pod, PodSpec, PodTemplateSpec, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::api::{DeleteParams, ListParams, ObjectMeta, PostParams};

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some([("value".to_owned(), value.to_owned())].into()),
        ..ConfigMap::default()
    }
}

#[tokio::test]
async fn two_control_planes_run_side_by_side_in_isolation() -> TestResult {
    if !guardian_testenv::local_plane_wanted()? {
        return Ok(());
    }
    let (a, b) = tokio::try_join!(
        ControlPlane::builder().context_name("cluster-a").start(),
        ControlPlane::builder()
            .context_name("cluster-b")
            // A caller's flag overrides the harness's default of the same name.
            .apiserver_arg("--service-cluster-ip-range=10.96.0.0/24")
            .start(),
    )?;
    assert_ne!(a.config().cluster_url, b.config().cluster_url);
    assert_eq!(a.context_name(), "cluster-a");

    let ns = a.create_namespace("only-in-a").await?;
    let in_b = Api::<Namespace>::all(b.client()?).get_opt(&ns).await?;
    assert!(
        in_b.is_none(),
        "namespace {ns} of cluster a is visible in cluster b"
    );
    assert!(
        Api::<Namespace>::all(a.client()?)
            .get_opt(&ns)
            .await?
            .is_some()
    );

    // b's extra flag took effect: its Services get cluster IPs from the overriding range.
    let ip = service_ip(&b).await?;
    assert!(
        ip.starts_with("10.96.0."),
        "cluster IP {ip} is outside b's --service-cluster-ip-range"
    );

    // Each has its own PKI: a's admin client certificate is not trusted by b.
    let mut crossed = a.config().clone();
    crossed.cluster_url = b.config().cluster_url.clone();
    crossed.root_cert = b.config().root_cert.clone();
    let result = kube::Client::try_from(crossed)?.apiserver_version().await;
    assert!(
        matches!(&result, Err(kube::Error::Api(s)) if s.code == 401),
        "a's admin certificate must be rejected by b: {result:?}"
    );

    // Dropping stops every process.
    let pids: Vec<u32> = a
        .process_ids()
        .iter()
        .chain(&b.process_ids())
        .map(|(_, pid)| *pid)
        .collect();
    assert_eq!(pids.len(), 4);
    drop((a, b));
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "pid {pid} still runs after drop"
        );
    }
    Ok(())
}

#[tokio::test]
async fn stored_objects_survive_an_apiserver_restart_and_an_etcd_outage() -> TestResult {
    if !guardian_testenv::local_plane_wanted()? {
        return Ok(());
    }
    let mut cp = ControlPlane::start().await?;
    let ns = cp.create_namespace("restart").await?;
    Api::<ConfigMap>::namespaced(cp.client()?, &ns)
        .create(
            &PostParams::default(),
            &config_map("kept", "before restart"),
        )
        .await?;

    cp.restart_apiserver().await?;
    let kept = Api::<ConfigMap>::namespaced(cp.client()?, &ns)
        .get("kept")
        .await?;
    assert_eq!(
        kept.data.and_then(|d| d.get("value").cloned()).as_deref(),
        Some("before restart")
    );

    // With etcd down the apiserver stays up but reports itself unready, naming etcd. (Its
    // first failure may be another: a request of a loaded machine that timed out.)
    cp.stop_etcd()?;
    let client = cp.client()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let unready = readyz(&client).await.err();
        if unready.as_ref().is_some_and(|text| text.contains("etcd")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz does not name etcd a minute after etcd stopped: {unready:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    cp.start_etcd().await?;
    let kept = Api::<ConfigMap>::namespaced(cp.client()?, &ns)
        .get("kept")
        .await?;
    assert_eq!(kept.metadata.name.as_deref(), Some("kept"));
    Api::<ConfigMap>::namespaced(cp.client()?, &ns)
        .create(&PostParams::default(), &config_map("after", "outage"))
        .await?;
    Ok(())
}

#[tokio::test]
async fn the_controller_manager_makes_pods_and_finishes_namespace_deletion() -> TestResult {
    if !guardian_testenv::local_plane_wanted()? {
        return Ok(());
    }
    // `make test` builds kube-controller-manager (build.sh --with-controller-manager); a missing
    // binary fails the start with the command to run, it is never skipped.
    let cp = ControlPlane::builder()
        .with_controller_manager()
        .start()
        .await?;
    assert!(cp.controller_manager_log().is_some_and(|log| log.is_file()));

    let ns = cp.create_namespace("kcm").await?;
    let deployments = Api::<Deployment>::namespaced(cp.client()?, &ns);
    deployments
        .create(&PostParams::default(), &web_deployment())
        .await?;
    let pods = Api::<Pod>::namespaced(cp.client()?, &ns);
    let with_label = ListParams::default().labels("app=web");
    eventually("the Deployment's Pod to be created", || async {
        Ok(!pods.list(&with_label).await?.items.is_empty())
    })
    .await?;

    let namespaces = Api::<Namespace>::all(cp.client()?);
    namespaces.delete(&ns, &DeleteParams::default()).await?;
    eventually("the deleted namespace to be gone", || async {
        Ok(namespaces.get_opt(&ns).await?.is_none())
    })
    .await?;
    Ok(())
}

fn web_deployment() -> Deployment {
    let labels: BTreeMap<String, String> = [("app".to_owned(), "web".to_owned())].into();
    Deployment {
        metadata: ObjectMeta {
            name: Some("web".into()),
            ..ObjectMeta::default()
        },
        spec: DeploymentSpec {
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "web".into(),
                        image: Some("registry.k8s.io/pause:3.10".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

/// Polls `check` until it returns true, for up to a minute.
async fn eventually<F, Fut>(what: &str, check: F) -> TestResult
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, kube::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await? {
        if Instant::now() >= deadline {
            return Err(format!("timed out waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// The cluster IP allocated to a new Service.
async fn service_ip(cp: &ControlPlane) -> Result<String, Box<dyn std::error::Error>> {
    let ns = cp.create_namespace("svc").await?;
    let service = Service {
        metadata: ObjectMeta {
            name: Some("web".into()),
            ..ObjectMeta::default()
        },
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: 80,
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let created = Api::<Service>::namespaced(cp.client()?, &ns)
        .create(&PostParams::default(), &service)
        .await?;
    Ok(created.spec.and_then(|s| s.cluster_ip).unwrap_or_default())
}

/// `/readyz?verbose`: Ok when ready, else the failure text (which names the failing checks).
async fn readyz(client: &kube::Client) -> Result<(), String> {
    let mut request = http::Request::new(Vec::new());
    *request.uri_mut() = http::Uri::from_static("/readyz?verbose");
    let result = tokio::time::timeout(Duration::from_secs(30), client.request_text(request)).await;
    match result {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("/readyz did not answer within 30 s".into()),
    }
}

/// A directory of fake binaries: shell scripts with the given bodies.
fn fake_binaries(etcd: &str, apiserver: &str) -> Result<tempfile::TempDir, std::io::Error> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    for (name, body) in [("etcd", etcd), ("kube-apiserver", apiserver)] {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n"))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(dir)
}

/// Removes the directory a failed start kept for inspection, given a log path inside it.
fn remove_kept_dir(log: &Path) {
    if let Some(dir) = log.parent().filter(|d| d.starts_with(std::env::temp_dir())) {
        // Only tidiness: a leftover directory is swept by a later start anyway.
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[tokio::test]
async fn missing_binaries_say_how_to_build_them() -> TestResult {
    let empty = tempfile::tempdir()?;
    let result = ControlPlane::builder()
        .use_existing_cluster(false)
        .binary_dir(empty.path())
        .start()
        .await;
    let err = result.err().ok_or("start() succeeded without binaries")?;
    let message = err.to_string();
    assert!(matches!(err, Error::BinaryMissing { .. }), "{err:?}");
    assert!(
        message.contains("run tests/control-plane/build.sh"),
        "{message}"
    );
    assert!(
        message.contains(&empty.path().display().to_string()),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn an_apiserver_that_exits_is_reported_with_its_log() -> TestResult {
    let bins = fake_binaries(
        "exec sleep 300",
        "echo 'fake kube-apiserver: cannot load the serving certificate' >&2; exit 3",
    )?;
    let result = ControlPlane::builder()
        .use_existing_cluster(false)
        .binary_dir(bins.path())
        .start()
        .await;
    let err = result
        .err()
        .ok_or("start() succeeded with a failing apiserver")?;
    let message = err.to_string();
    let Error::Exited { name, log, .. } = &err else {
        return Err(format!("expected Error::Exited, got {err:?}").into());
    };
    assert_eq!(*name, "kube-apiserver");
    assert!(message.contains("exit status: 3"), "{message}");
    assert!(message.contains(&log.display().to_string()), "{message}");
    assert!(
        message.contains("fake kube-apiserver: cannot load the serving certificate"),
        "{message}"
    );
    // The log is kept for inspection after a failed start.
    assert!(log.is_file(), "{} was not kept", log.display());
    remove_kept_dir(log);
    Ok(())
}

#[tokio::test]
async fn an_apiserver_that_never_gets_ready_times_out_naming_both_logs() -> TestResult {
    let bins = fake_binaries(
        "exec sleep 300",
        "echo 'fake kube-apiserver: stuck'; exec sleep 300",
    )?;
    let result = ControlPlane::builder()
        .use_existing_cluster(false)
        .binary_dir(bins.path())
        .start_timeout(Duration::from_secs(2))
        .start()
        .await;
    let err = result
        .err()
        .ok_or("start() succeeded with a stuck apiserver")?;
    let message = err.to_string();
    let Error::NotReady {
        apiserver_log,
        etcd_log,
        ..
    } = &err
    else {
        return Err(format!("expected Error::NotReady, got {err:?}").into());
    };
    assert!(message.contains("was not ready within"), "{message}");
    assert!(
        message.contains(&apiserver_log.display().to_string()),
        "{message}"
    );
    assert!(
        message.contains(&etcd_log.display().to_string()),
        "{message}"
    );
    assert!(message.contains("fake kube-apiserver: stuck"), "{message}");
    remove_kept_dir(apiserver_log);
    Ok(())
}

#[test]
fn the_binary_dir_matches_build_sh() -> TestResult {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../control-plane/build.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg("--print-dir")
        .output()?;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let from_script = String::from_utf8(output.stdout)?;
    assert_eq!(
        Path::new(from_script.trim()),
        guardian_testenv::default_binary_dir()?
    );
    Ok(())
}

#[test]
fn a_client_outside_a_runtime_is_an_error_not_a_panic() -> TestResult {
    // An existing-cluster control plane needs no server until a request is made.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kubeconfig");
    std::fs::write(
        &path,
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n\
         clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: t}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u}}]\n",
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let cp = runtime.block_on(
        ControlPlane::builder()
            .existing_cluster(&path, None)
            .start(),
    )?;
    assert!(matches!(cp.client(), Err(Error::NoRuntime)));
    let inside = runtime.block_on(async { cp.client().map(drop) });
    assert!(inside.is_ok(), "{inside:?}");
    Ok(())
}
