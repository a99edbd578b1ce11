//! A local control plane: etcd and kube-apiserver as child processes in a private temp dir,
//! started and stopped the way controller-runtime's envtest does it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::config::Kubeconfig;
use tempfile::TempDir;

use crate::binaries::Binaries;
use crate::certs::Pki;
use crate::error::{Error, Result};
use crate::kubeconfig;
use crate::ports::free_ports;
use crate::process::{ManagedProcess, log_tail};

/// Temp dirs are named `<DIR_PREFIX><pid>-…` so those of dead test processes can be found.
const DIR_PREFIX: &str = "kube-guardian-testenv-";
/// Marks a directory kept for inspection after a failure.
const KEPT_MARKER: &str = "KEPT-FOR-INSPECTION";
/// Kept directories of dead processes are removed after this long.
const KEEP_FOR: Duration = Duration::from_secs(24 * 3600);
/// SIGTERM grace before SIGKILL. The apiserver stops in ~3 s, etcd in well under one; with etcd
/// already gone the apiserver hangs for more than 30 s, hence the escalation.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// Start attempts when a picked port was taken by someone else before the child bound it.
const START_ATTEMPTS: usize = 3;
/// Pause between two /readyz polls.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Limit for one /readyz request, so a stuck connection cannot eat the whole deadline.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Options that shape a local control plane.
#[derive(Debug, Clone)]
pub(crate) struct LocalOptions {
    pub binary_dir: PathBuf,
    pub context: String,
    pub extra_apiserver_args: Vec<String>,
    pub start_timeout: Duration,
    pub controller_manager: bool,
}

/// A running etcd + kube-apiserver pair and everything they were started with.
#[derive(Debug)]
pub(crate) struct LocalPlane {
    binaries: Binaries,
    pub pki: Pki,
    options: LocalOptions,
    etcd_port: u16,
    apiserver_port: u16,
    etcd: Option<ManagedProcess>,
    apiserver: Option<ManagedProcess>,
    controller_manager: Option<ManagedProcess>,
    pub kubeconfig: Kubeconfig,
    pub kubeconfig_path: PathBuf,
    pub config: kube::Config,
    dir: TempDir,
}

impl LocalPlane {
    /// Starts etcd and kube-apiserver and waits until the apiserver reports ready.
    pub async fn start(options: LocalOptions) -> Result<Self> {
        let binaries = Binaries::locate(&options.binary_dir, options.controller_manager)?;
        remove_stale_dirs();
        let mut attempt = 1;
        loop {
            match Self::start_once(&options, &binaries).await {
                Err(e) if attempt < START_ATTEMPTS && port_was_taken(&e) => {
                    eprintln!(
                        "testenv: a port was taken while starting the control plane, retrying: {e}"
                    );
                    // The failed attempt's directory was kept for inspection; the retry supersedes it.
                    if let Error::Exited { log, .. }
                    | Error::NotReady {
                        apiserver_log: log, ..
                    } = &e
                        && let Some(dir) = log.parent()
                    {
                        let _ = std::fs::remove_dir_all(dir);
                    }
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_once(options: &LocalOptions, binaries: &Binaries) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(Error::TempDir)?;
        let pki = Pki::generate()?;
        write_pki(dir.path(), &pki)?;

        let [etcd_port, apiserver_port] = free_ports::<2>()?;
        let kubeconfig = kubeconfig::build(
            &options.context,
            &format!("https://127.0.0.1:{apiserver_port}"),
            &pki.serving_ca_pem,
            &format!("{}-admin", options.context),
            kubeconfig::client_cert_auth(&pki.admin),
        );
        let kubeconfig_path = dir.path().join("kubeconfig");
        kubeconfig::write(&kubeconfig, &kubeconfig_path)?;
        let config = kubeconfig::to_config(kubeconfig.clone(), None, &kubeconfig_path).await?;

        // From here on, Drop stops whatever was started if a step fails.
        let mut plane = Self {
            binaries: binaries.clone(),
            pki,
            options: options.clone(),
            etcd_port,
            apiserver_port,
            etcd: None,
            apiserver: None,
            controller_manager: None,
            kubeconfig,
            kubeconfig_path,
            config,
            dir,
        };
        // Started together: the apiserver retries etcd until it answers, which is quicker than
        // waiting for etcd first.
        plane.spawn_etcd()?;
        plane.spawn_apiserver()?;
        let ready = async {
            plane.wait_ready().await?;
            // Started once the API serves: before that it would only retry.
            if plane.binaries.controller_manager.is_some() {
                plane.spawn_controller_manager()?;
                plane.wait_controllers().await?;
            }
            Ok(())
        };
        match ready.await {
            Ok(()) => Ok(plane),
            Err(e) => {
                plane.keep_for_inspection();
                Err(e)
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn apiserver_log(&self) -> PathBuf {
        self.dir.path().join("kube-apiserver.log")
    }

    pub fn etcd_log(&self) -> PathBuf {
        self.dir.path().join("etcd.log")
    }

    pub fn controller_manager_log(&self) -> PathBuf {
        self.dir.path().join("kube-controller-manager.log")
    }

    pub fn runs_controller_manager(&self) -> bool {
        self.binaries.controller_manager.is_some()
    }

    pub fn process_ids(&self) -> Vec<(&'static str, u32)> {
        [&self.etcd, &self.apiserver, &self.controller_manager]
            .into_iter()
            .flatten()
            .map(|p| (p.name, p.pid()))
            .collect()
    }

    /// Stops kube-apiserver and starts it again on the same port, certificates and etcd.
    pub async fn restart_apiserver(&mut self) -> Result<()> {
        if let Some(mut apiserver) = self.apiserver.take() {
            apiserver.stop(STOP_GRACE)?;
        }
        self.spawn_apiserver()?;
        self.wait_ready().await
    }

    /// Stops kube-apiserver (etcd keeps running): the port refuses connections until
    /// [`LocalPlane::start_apiserver`].
    pub fn stop_apiserver(&mut self) -> Result<()> {
        match self.apiserver.take() {
            Some(mut apiserver) => apiserver.stop(STOP_GRACE),
            None => Ok(()),
        }
    }

    /// Starts kube-apiserver again on the same port and certificates, and waits until it is ready.
    pub async fn start_apiserver(&mut self) -> Result<()> {
        if self.apiserver.is_none() {
            self.spawn_apiserver()?;
        }
        self.wait_ready().await
    }

    /// Kills etcd as a crash would (data kept); the apiserver keeps running and turns unready.
    /// SIGKILL rather than SIGTERM: etcd's graceful stop waits for the apiserver's watch streams,
    /// which never end. No data is lost: writes are in the page cache even without fsync.
    pub fn stop_etcd(&mut self) -> Result<()> {
        match self.etcd.take() {
            Some(mut etcd) => etcd.kill(),
            None => Ok(()),
        }
    }

    /// Starts etcd again on its data and port, and waits until the apiserver is ready again.
    pub async fn start_etcd(&mut self) -> Result<()> {
        if self.etcd.is_none() {
            self.spawn_etcd()?;
        }
        self.wait_ready().await
    }

    fn spawn_etcd(&mut self) -> Result<()> {
        let client_url = format!("http://127.0.0.1:{}", self.etcd_port);
        let data_dir = self.dir.path().join("etcd-data");
        let args = vec![
            "--name=default".to_owned(),
            format!("--data-dir={}", data_dir.display()),
            format!("--listen-client-urls={client_url}"),
            format!("--advertise-client-urls={client_url}"),
            // A single member never talks to peers: let the kernel pick the port (as envtest does).
            "--listen-peer-urls=http://127.0.0.1:0".to_owned(),
            // Throwaway data: fsync only slows tests on a busy disk.
            "--unsafe-no-fsync=true".to_owned(),
        ];
        let log = self.etcd_log();
        self.etcd = Some(ManagedProcess::spawn(
            "etcd",
            &self.binaries.etcd,
            &args,
            &log,
        )?);
        Ok(())
    }

    fn spawn_apiserver(&mut self) -> Result<()> {
        let pki = self.dir.path().join("pki");
        let file = |name: &str| pki.join(name).display().to_string();
        let mut args = vec![
            format!("--etcd-servers=http://127.0.0.1:{}", self.etcd_port),
            format!("--secure-port={}", self.apiserver_port),
            "--bind-address=127.0.0.1".to_owned(),
            "--advertise-address=127.0.0.1".to_owned(),
            // The default reconciler refuses a loopback advertise address.
            "--endpoint-reconciler-type=none".to_owned(),
            format!(
                "--cert-dir={}",
                self.dir.path().join("apiserver-certs").display()
            ),
            format!("--tls-cert-file={}", file("apiserver.crt")),
            format!("--tls-private-key-file={}", file("apiserver.key")),
            format!("--client-ca-file={}", file("client-ca.crt")),
            "--authorization-mode=RBAC".to_owned(),
            "--service-cluster-ip-range=10.0.0.0/24".to_owned(),
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local".to_owned(),
            format!("--service-account-key-file={}", file("sa.pub")),
            format!("--service-account-signing-key-file={}", file("sa.key")),
            // Without kube-controller-manager no token controller exists for this plugin to wait on.
            "--disable-admission-plugins=ServiceAccount".to_owned(),
            "--allow-privileged=true".to_owned(),
        ];
        // Appended last so a caller's flag overrides a default of the same name.
        args.extend(self.options.extra_apiserver_args.iter().cloned());
        let log = self.apiserver_log();
        self.apiserver = Some(ManagedProcess::spawn(
            "kube-apiserver",
            &self.binaries.apiserver,
            &args,
            &log,
        )?);
        Ok(())
    }

    /// kube-controller-manager with every default controller, so Deployments get Pods, deleted
    /// namespaces go away and garbage collection runs. No serving port: nothing needs it.
    fn spawn_controller_manager(&mut self) -> Result<()> {
        let Some(binary) = self.binaries.controller_manager.clone() else {
            return Ok(());
        };
        let pki = self.dir.path().join("pki");
        let args = vec![
            format!("--kubeconfig={}", self.kubeconfig_path.display()),
            "--controllers=*".to_owned(),
            "--leader-elect=false".to_owned(),
            "--secure-port=0".to_owned(),
            format!(
                "--service-account-private-key-file={}",
                pki.join("sa.key").display()
            ),
            format!("--root-ca-file={}", pki.join("serving-ca.crt").display()),
        ];
        let log = self.controller_manager_log();
        let process = ManagedProcess::spawn("kube-controller-manager", &binary, &args, &log)?;
        self.controller_manager = Some(process);
        Ok(())
    }

    /// The controllers run once the ServiceAccount controller has made `default/default`.
    async fn wait_controllers(&mut self) -> Result<()> {
        let accounts: kube::Api<ServiceAccount> =
            kube::Api::namespaced(self.admin_client()?, "default");
        let started = Instant::now();
        let mut last_check: String;
        loop {
            self.fail_if_exited()?;
            match accounts.get_opt("default").await {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => last_check = "ServiceAccount default/default not created yet".into(),
                Err(e) => last_check = error_chain(&e),
            }
            if started.elapsed() >= self.options.start_timeout {
                return Err(Error::ControllersNotReady {
                    waited: started.elapsed(),
                    last_check,
                    log: self.controller_manager_log(),
                    tail: log_tail(&self.controller_manager_log()),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn admin_client(&self) -> Result<kube::Client> {
        kube::Client::try_from(self.config.clone()).map_err(|source| Error::Client {
            who: "the admin user".into(),
            source,
        })
    }

    fn fail_if_exited(&mut self) -> Result<()> {
        let processes = [
            &mut self.etcd,
            &mut self.apiserver,
            &mut self.controller_manager,
        ];
        for process in processes.into_iter().flatten() {
            if let Some(status) = process.exited() {
                return Err(process.exited_error(status));
            }
        }
        Ok(())
    }

    /// Polls `/readyz` until it answers 200, failing early when a process exits.
    async fn wait_ready(&mut self) -> Result<()> {
        let client = self.admin_client()?;
        let started = Instant::now();
        let mut last_check: String;
        loop {
            self.fail_if_exited()?;
            let mut request = http::Request::new(Vec::new());
            *request.uri_mut() = http::Uri::from_static("/readyz");
            match tokio::time::timeout(PROBE_TIMEOUT, client.request_text(request)).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => last_check = error_chain(&e),
                Err(_) => last_check = format!("no answer within {PROBE_TIMEOUT:?}"),
            }
            if started.elapsed() >= self.options.start_timeout {
                return Err(Error::NotReady {
                    waited: started.elapsed(),
                    last_check,
                    apiserver_log: self.apiserver_log(),
                    etcd_log: self.etcd_log(),
                    tail: log_tail(&self.apiserver_log()),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Stops the apiserver's clients, then the apiserver, then etcd: with etcd gone first the
    /// apiserver hangs on shutdown.
    fn stop_all(&mut self) {
        let order = [
            self.controller_manager.take(),
            self.apiserver.take(),
            self.etcd.take(),
        ];
        for mut process in order.into_iter().flatten() {
            if let Err(e) = process.stop(STOP_GRACE) {
                eprintln!("testenv: {e:?}");
            }
        }
    }

    /// Keeps the directory (logs, certificates, kubeconfig) after a failure; etcd data is dropped.
    fn keep_for_inspection(&mut self) {
        self.stop_all();
        // Best effort: the directory is kept whether or not these succeed.
        let _ = std::fs::remove_dir_all(self.dir.path().join("etcd-data"));
        let _ = std::fs::write(self.dir.path().join(KEPT_MARKER), b"");
        self.dir.disable_cleanup(true);
        eprintln!(
            "testenv: kept {} for inspection (logs, certificates, kubeconfig)",
            self.dir.path().display()
        );
    }
}

impl Drop for LocalPlane {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.keep_for_inspection();
        } else {
            self.stop_all();
        }
    }
}

fn write_pki(dir: &Path, pki: &Pki) -> Result<()> {
    let pki_dir = dir.join("pki");
    std::fs::create_dir(&pki_dir).map_err(|source| Error::WriteFile {
        path: pki_dir.clone(),
        source,
    })?;
    let files = [
        ("serving-ca.crt", &pki.serving_ca_pem),
        ("apiserver.crt", &pki.serving.cert_pem),
        ("apiserver.key", &pki.serving.key_pem),
        ("client-ca.crt", &pki.client_ca_pem),
        ("sa.key", &pki.service_account_key_pem),
        ("sa.pub", &pki.service_account_pub_pem),
    ];
    for (name, pem) in files {
        kubeconfig::write_private(&pki_dir.join(name), pem.as_bytes())?;
    }
    Ok(())
}

fn port_was_taken(e: &Error) -> bool {
    match e {
        Error::Exited { tail, .. } | Error::NotReady { tail, .. } => {
            tail.contains("address already in use")
        }
        _ => false,
    }
}

/// An error and its causes on one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Removes directories left by test processes that have exited: a control plane shared by a
/// test binary lives in a static and is never dropped (its children die with the process).
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let path = entry.path();
        let kept_recently = std::fs::metadata(path.join(KEPT_MARKER))
            .and_then(|m| m.modified())
            .is_ok_and(|at| SystemTime::now().duration_since(at).unwrap_or_default() < KEEP_FOR);
        if !kept_recently {
            // Another test process may be removing it at the same time: ignore failures.
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bind_conflict_counts_as_a_taken_port() {
        let exited = |tail: &str| Error::Exited {
            name: "etcd",
            status: "exit status: 1".into(),
            log: PathBuf::from("/tmp/x/etcd.log"),
            tail: tail.into(),
        };
        assert!(port_was_taken(&exited(
            "listen tcp 127.0.0.1:2379: bind: address already in use"
        )));
        assert!(!port_was_taken(&exited("open /nonexistent: no such file")));
        assert!(!port_was_taken(&Error::NoCacheDir));
    }
}
