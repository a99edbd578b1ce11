//! `kube-guardian operator` as real processes against the real local control plane: leader
//! election between replicas, kill -9 and SIGTERM takeovers, /metrics, and an apiserver restart.

#[path = "support/operator_run.rs"]
mod operator_run;
#[path = "support/operator_seeded.rs"]
mod operator_seeded;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use guardian_core::crd::GuardianPolicy;
use guardian_testenv::operator_process::{OperatorProcess, free_addr};
use guardian_testenv::{ControlPlane, lease};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::Api;
use operator_run::{logs_dir, operator, wait_for};
use operator_seeded::seeded;

const LEASE: &str = "kube-guardian-test";
/// The Lease's duration (`start_operator`).
const LEASE_DURATION: Duration = Duration::from_secs(4);

fn start_operator(cp: &ControlPlane, name: &str, dir: &Path) -> OperatorProcess {
    operator(cp, name)
        .leader_election(LEASE, "default", LEASE_DURATION, Duration::from_secs(3))
        .resync(Duration::from_secs(30))
        .log_level("info,guardian_operator=debug,kube_runtime=debug")
        .start(dir)
        .expect("the operator starts")
}

fn is_leader(op: &OperatorProcess) -> bool {
    op.metric("kube_guardian_leader") == Some(1.0)
}

/// The Leases of the namespace the election Lease is in.
fn leases(client: &kube::Client) -> Api<Lease> {
    Api::namespaced(client.clone(), "default")
}

async fn lease_holder(client: &kube::Client) -> Option<String> {
    lease::holder(&leases(client), LEASE).await
}

/// The election Lease's spec, as it is now.
async fn lease_spec(client: &kube::Client) -> LeaseSpec {
    lease::spec(&leases(client), LEASE)
        .await
        .expect("the election Lease")
}

async fn violations(client: &kube::Client, policy: &str) -> Option<u64> {
    let p = Api::<GuardianPolicy>::all(client.clone())
        .get_opt(policy)
        .await
        .ok()??;
    Some(p.status?.summary?.violations)
}

fn signal(p: &OperatorProcess, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(i32::try_from(p.child().id()).expect("pid fits"));
    nix::sys::signal::kill(pid, sig).expect("signal the operator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_elect_one_writer_and_take_over_on_kill_and_on_sigterm() {
    let cp = ControlPlane::shared().await.expect("control plane");
    let (client, _, policy) = seeded(cp, "proc").await;
    let dir = logs_dir();
    let a = start_operator(cp, "op-a", dir.path());
    let b = start_operator(cp, "op-b", dir.path());
    let both = [&a, &b];
    wait_for("both replicas ready", &both, async || {
        (a.get("/readyz")?.0 == 200 && b.get("/readyz")?.0 == 200).then_some(())
    })
    .await;
    // The operator opts out of transparent huge pages, which would inflate its memory use.
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", a.child().id())).expect("status");
    assert!(status.contains("THP_enabled:\t0"), "{status}");
    wait_for("the status to be written", &both, async || {
        violations(&client, &policy).await.filter(|v| *v == 1)
    })
    .await;

    // Exactly one leads, the Lease names it, and only it reconciles.
    let holder = wait_for("a lease holder", &both, async || {
        lease_holder(&client).await
    })
    .await;
    let (leader, standby) = if holder.starts_with("op-a") {
        (a, b)
    } else {
        (b, a)
    };
    assert!(holder.starts_with(leader.name()));
    assert!(is_leader(&leader) && !is_leader(&standby));
    assert!(
        leader
            .metric("kube_guardian_reconciles_total")
            .unwrap_or(0.0)
            >= 1.0
    );
    assert_eq!(
        standby
            .metric("kube_guardian_reconciles_total")
            .unwrap_or(0.0),
        0.0,
        "the standby wrote"
    );

    // /metrics parses as Prometheus text: every sample line is `name{labels} value`.
    let (status, body) = leader.get("/metrics").expect("metrics");
    assert_eq!(status, 200);
    for line in body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().expect("a value");
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
    assert!(
        body.contains("kube_guardian_violations{policy=\""),
        "{body}"
    );
    assert!(
        body.contains("process_resident_memory_bytes"),
        "standard process metrics"
    );

    // SIGTERM: the leader releases the Lease (clears its holder) and exits before a kubelet's
    // default grace period (30 s) would end in SIGKILL. The standby is stopped meanwhile
    // (SIGSTOP), so the leader is the Lease's only writer: an empty holder after its exit is its
    // release, not a takeover of an expired Lease, however slowly a loaded machine runs (no time
    // is compared). Resumed, the standby takes the Lease over.
    let before = lease_spec(&client).await;
    signal(&standby, nix::sys::signal::Signal::SIGSTOP);
    let sigterm_at = Instant::now();
    let mut leader = leader;
    signal(&leader, nix::sys::signal::Signal::SIGTERM);
    let exited = loop {
        if let Some(status) = leader.child_mut().try_wait().expect("wait") {
            break status;
        }
        assert!(
            sigterm_at.elapsed() < Duration::from_secs(30),
            "still running 30 s after SIGTERM:\n{}",
            leader.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let released = lease_spec(&client).await;
    signal(&standby, nix::sys::signal::Signal::SIGCONT);
    assert!(
        exited.success(),
        "exit after SIGTERM: {exited:?}\n{}",
        leader.logs()
    );
    assert!(
        released
            .holder_identity
            .as_deref()
            .is_none_or(str::is_empty),
        "the Lease still names {:?} after its leader exited on SIGTERM: not released\n{}",
        released.holder_identity,
        leader.logs()
    );
    lease::wait_for_takeover(
        &leases(&client),
        LEASE,
        &before,
        standby.name(),
        "after SIGTERM",
        &[&standby],
    )
    .await;
    wait_for("the new leader's metric", &[&standby], async || {
        is_leader(&standby).then_some(())
    })
    .await;

    // kill -9 of the new leader: nothing releases the Lease, and a fresh replica takes it once it
    // expired.
    let c = start_operator(cp, "op-c", dir.path());
    wait_for("the third replica ready", &[&c], async || {
        (c.get("/readyz")?.0 == 200).then_some(())
    })
    .await;
    let before = lease_spec(&client).await;
    signal(&standby, nix::sys::signal::Signal::SIGKILL);
    let after = lease::wait_for_takeover(
        &leases(&client),
        LEASE,
        &before,
        "op-c",
        "after kill -9",
        &[&c],
    )
    .await;
    // Not before the killed leader's lease expired (it renewed at `before` or later).
    let late = lease::acquired_past_expiry(&before, &after, LEASE_DURATION).expect("times");
    assert!(
        late >= 0,
        "op-c took an unexpired Lease, {} ms early",
        -late / 1000
    );
    drop(standby);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_recovers_from_an_apiserver_restart_without_exiting() {
    let mut cp = ControlPlane::start().await.expect("control plane");

    // Without the CRDs the operator fails fast with an install hint (an operator that starts
    // instead is killed at a generous deadline and fails the test, not hangs it).
    let out = guardian_testenv::output_within(
        Command::new(env!("CARGO_BIN_EXE_kube-guardian"))
            .args(["operator", "--kubeconfig"])
            .arg(cp.kubeconfig_path())
            .args([
                "--health-addr",
                &free_addr().expect("a free port").to_string(),
            ]),
        "kube-guardian operator without the CRDs",
        None,
        Duration::from_secs(90),
    )
    .expect("the operator exits");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("guardianpolicies.guardian.kube-guardian.dev is not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("kube-guardian crd | kubectl apply -f -"),
        "{stderr}"
    );

    let (client, ns, policy) = seeded(&cp, "proc").await;
    let dir = logs_dir();
    let mut op = start_operator(&cp, "op-r", dir.path());
    wait_for("the status", &[&op], async || {
        violations(&client, &policy).await.filter(|v| *v == 1)
    })
    .await;
    cp.restart_apiserver().await.expect("apiserver restarts");
    assert!(
        op.child_mut().try_wait().expect("wait").is_none(),
        "the operator exited:\n{}",
        op.logs()
    );
    // After the restart the operator still sees changes: a second privileged Pod is counted.
    let client = cp.client().expect("client after restart");
    guardian_testenv::pods::create_privileged(&client, &ns, "privileged-2").await;
    wait_for("the status after the restart", &[&op], async || {
        violations(&client, &policy).await.filter(|v| *v == 2)
    })
    .await;
    assert!(
        op.child_mut().try_wait().expect("wait").is_none(),
        "the operator exited:\n{}",
        op.logs()
    );
    // This cluster has no PolicyReport CRD: said once, and status keeps working.
    assert_eq!(
        op.logs()
            .matches("PolicyReport CRD (wgpolicyk8s.io/v1alpha2) is not installed")
            .count(),
        1,
        "{}",
        op.logs()
    );
}
