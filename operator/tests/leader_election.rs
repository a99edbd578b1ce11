//! Leader election against a real kube-apiserver: one leader of two, handover on release (before
//! the released Lease would expire), takeover after a crash (not before the Lease expired), and
//! surviving an apiserver restart. Takeovers are judged by the Lease's own times, not the clock.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use guardian_operator::leader::{LeaderElection, LeaderHandle, LeaseConfig};
use guardian_operator::metrics::Metrics;
use guardian_testenv::{ControlPlane, lease};
use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};
use tokio::sync::watch;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const LEASE: &str = "kube-guardian-test";
/// Short timings so takeovers are quick; renewals every second leave a loaded machine 2 s of slack.
const LEASE_DURATION: Duration = Duration::from_secs(4);
const RENEW_DEADLINE: Duration = Duration::from_secs(3);
const RETRY_PERIOD: Duration = Duration::from_secs(1);
/// Generous: the first election includes creating the Lease on a possibly busy 2-core machine.
const ELECTION_TIMEOUT: Duration = Duration::from_secs(90);

struct Candidate {
    handle: Option<LeaderHandle>,
    leader: watch::Receiver<bool>,
    metrics: Metrics,
    identity: String,
}

impl Candidate {
    fn start(
        client: &Client,
        namespace: &str,
        identity: &str,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        Self::start_with_lease(client, namespace, identity, LEASE_DURATION)
    }

    fn start_with_lease(
        client: &Client,
        namespace: &str,
        identity: &str,
        lease_duration: Duration,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut config = LeaseConfig::new(LEASE, namespace, identity);
        config.lease_duration = lease_duration;
        config.renew_deadline = RENEW_DEADLINE;
        config.retry_period = RETRY_PERIOD;
        let metrics = Metrics::new()?;
        let (handle, leader) = LeaderElection::start(client.clone(), config, metrics.clone())?;
        assert_eq!(handle.identity(), identity);
        Ok(Candidate {
            handle: Some(handle),
            leader,
            metrics,
            identity: identity.to_owned(),
        })
    }

    fn leads(&self) -> bool {
        *self.leader.borrow()
    }

    fn handle(&self) -> Result<&LeaderHandle, &'static str> {
        self.handle.as_ref().ok_or("the candidate was stopped")
    }
}

async fn two_candidates(
    client: &Client,
    namespace: &str,
) -> Result<[Candidate; 2], Box<dyn std::error::Error>> {
    Ok([
        Candidate::start(client, namespace, "candidate-a")?,
        Candidate::start(client, namespace, "candidate-b")?,
    ])
}

/// Waits until one of the two leads; returns its index after checking the other does not.
async fn wait_for_one_leader(
    candidates: &mut [Candidate; 2],
    within: Duration,
) -> Result<usize, Box<dyn std::error::Error>> {
    let [a, b] = candidates;
    let index = tokio::time::timeout(within, async {
        tokio::select! {
            led = a.leader.wait_for(|leads| *leads) => led.map(|_| 0),
            led = b.leader.wait_for(|leads| *leads) => led.map(|_| 1),
        }
    })
    .await
    .map_err(|_| format!("no leader within {within:?}"))??;
    assert!(!candidates[1 - index].leads(), "both candidates lead");
    Ok(index)
}

async fn holder(client: &Client, namespace: &str) -> Result<Option<String>, kube::Error> {
    let lease = Api::<Lease>::namespaced(client.clone(), namespace)
        .get(LEASE)
        .await?;
    Ok(lease.spec.and_then(|s| s.holder_identity))
}

/// Waits for `candidate` to lead.
async fn wait_until_leads(
    candidate: &mut Candidate,
    within: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    tokio::time::timeout(within, candidate.leader.wait_for(|leads| *leads))
        .await
        .map_err(|_| format!("{} did not take over within {within:?}", candidate.identity))??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_of_two_leads_and_the_lease_names_it() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let namespace = cp.create_namespace("leader-one").await?;
    let client = cp.client()?;
    let mut candidates = two_candidates(&client, &namespace).await?;

    let leader = wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    let standby = 1 - leader;
    assert_eq!(
        holder(&client, &namespace).await?.as_deref(),
        Some(candidates[leader].identity.as_str())
    );
    assert!(
        candidates[leader]
            .metrics
            .render()
            .contains("kube_guardian_leader 1")
    );
    assert!(
        candidates[standby]
            .metrics
            .render()
            .contains("kube_guardian_leader 0")
    );

    // Steady state over two lease durations: renewals keep the leader, the standby stays out.
    let [a, b] = &mut candidates;
    let quiet = tokio::time::timeout(2 * LEASE_DURATION, async {
        tokio::select! {
            _ = a.leader.changed() => "a",
            _ = b.leader.changed() => "b",
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "leadership changed in steady state: {quiet:?}"
    );
    assert!(candidates[leader].leads() && !candidates[standby].leads());

    for candidate in candidates {
        if let Some(handle) = candidate.handle {
            handle.release().await?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_hands_over_to_the_standby_before_the_lease_would_expire() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let namespace = cp.create_namespace("leader-release").await?;
    let client = cp.client()?;
    // A long lease: a standby that waited for the released Lease to expire, instead of taking it
    // at once, would acquire it at least this long after the leader's last renewal.
    let lease = Duration::from_secs(20);
    let mut candidates = [
        Candidate::start_with_lease(&client, &namespace, "candidate-a", lease)?,
        Candidate::start_with_lease(&client, &namespace, "candidate-b", lease)?,
    ];
    let leader = wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    let standby = 1 - leader;
    let leases = Api::<Lease>::namespaced(client.clone(), &namespace);
    let before = lease::spec(&leases, LEASE).await.ok_or("no Lease")?;

    let handle = candidates[leader].handle.take().ok_or("no handle")?;
    handle.release().await?;
    assert!(!candidates[leader].leads(), "still leading after release");
    wait_until_leads(&mut candidates[standby], ELECTION_TIMEOUT).await?;
    let after = lease::wait_for_takeover(
        &leases,
        LEASE,
        &before,
        &candidates[standby].identity,
        "after the leader released it",
        &[],
    )
    .await;
    // The leader renewed at `before.renewTime` or later: acquired before that plus the lease's
    // duration, the standby took the released Lease without waiting for it to expire.
    let late = lease::acquired_past_expiry(&before, &after, lease).ok_or("no Lease times")?;
    assert!(
        late < 0,
        "the standby acquired the released Lease {} ms after it would have expired",
        late / 1000
    );

    if let Some(handle) = candidates[standby].handle.take() {
        handle.release().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_leader_is_replaced_once_its_lease_expired() -> TestResult {
    let Some(cp) = ControlPlane::shared_unless_skipped().await? else {
        return Ok(());
    };
    let namespace = cp.create_namespace("leader-kill").await?;
    let client = cp.client()?;
    let mut candidates = two_candidates(&client, &namespace).await?;
    let leader = wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    let standby = 1 - leader;
    let leases = Api::<Lease>::namespaced(client.clone(), &namespace);
    let before = lease::spec(&leases, LEASE).await.ok_or("no Lease")?;

    // Dropping the handle aborts the elector without releasing: the Lease keeps naming the dead
    // leader until it expires, as after kill -9.
    drop(candidates[leader].handle.take());
    assert!(
        !candidates[leader].leads(),
        "a stopped elector must not claim leadership"
    );
    wait_until_leads(&mut candidates[standby], LEASE_DURATION + ELECTION_TIMEOUT).await?;
    let after = lease::wait_for_takeover(
        &leases,
        LEASE,
        &before,
        &candidates[standby].identity,
        "after the leader's elector was dropped",
        &[],
    )
    .await;
    // Not before the dead leader's lease expired (its last renewal was at `before` or later).
    let late =
        lease::acquired_past_expiry(&before, &after, LEASE_DURATION).ok_or("no Lease times")?;
    assert!(
        late >= 0,
        "the standby took an unexpired Lease, {} ms early",
        -late / 1000
    );

    if let Some(handle) = candidates[standby].handle.take() {
        handle.release().await?;
    }
    Ok(())
}

/// Records every value a leader channel takes, with when it took it.
fn record(mut leader: watch::Receiver<bool>) -> Arc<Mutex<Vec<(Instant, bool)>>> {
    let log = Arc::new(Mutex::new(vec![(
        Instant::now(),
        *leader.borrow_and_update(),
    )]));
    let writer = log.clone();
    tokio::spawn(async move {
        while leader.changed().await.is_ok() {
            let value = *leader.borrow_and_update();
            writer
                .lock()
                .map(|mut log| log.push((Instant::now(), value)))
                .ok();
        }
    });
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_apiserver_restart_does_not_stop_the_election() -> TestResult {
    if !guardian_testenv::local_plane_wanted()? {
        return Ok(());
    }
    let mut cp = ControlPlane::start().await?;
    let namespace = cp.create_namespace("leader-restart").await?;
    let client = cp.client()?;
    let mut candidates = two_candidates(&client, &namespace).await?;
    let leader = wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    let history = record(candidates[leader].leader.clone());

    let start = Instant::now();
    cp.restart_apiserver().await?;
    let outage = start.elapsed();

    let new_leader = wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    let resumed = start.elapsed();
    for candidate in &candidates {
        assert!(
            !candidate.handle()?.is_finished(),
            "{} stopped",
            candidate.identity
        );
    }
    assert_eq!(
        holder(&client, &namespace).await?.as_deref(),
        Some(candidates[new_leader].identity.as_str())
    );

    let history = history.lock().map_err(|_| "poisoned")?.clone();
    let stepped_down = history
        .iter()
        .find(|(_, leads)| !leads)
        .map(|(at, _)| at.duration_since(start));
    eprintln!(
        "apiserver restart took {outage:?}; old leader stepped down after {stepped_down:?}; \
         {} leads again {resumed:?} after the restart began",
        candidates[new_leader].identity
    );
    // The step-down itself is asserted, every run, by
    // `the_leader_stops_writing_at_the_renew_deadline_while_the_apiserver_cannot_store`.

    for candidate in candidates {
        if let Some(handle) = candidate.handle {
            handle.release().await?;
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leader_stops_writing_at_the_renew_deadline_while_the_apiserver_cannot_store()
-> TestResult {
    if !guardian_testenv::local_plane_wanted()? {
        return Ok(());
    }
    let mut cp = ControlPlane::start().await?;
    let namespace = cp.create_namespace("leader-deadline").await?;
    let client = cp.client()?;
    // A lease twice the renew deadline leaves room between the step-down the test expects and
    // the moment a standby could take over, so scheduling slack never hides a double leader.
    let lease = 2 * RENEW_DEADLINE + 2 * RETRY_PERIOD;
    let mut candidates = [
        Candidate::start_with_lease(&client, &namespace, "candidate-a", lease)?,
        Candidate::start_with_lease(&client, &namespace, "candidate-b", lease)?,
    ];
    let leader = wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    let history = record(candidates[leader].leader.clone());

    // Without etcd the API server stores nothing: no renewal can succeed, however long it is
    // kept down. Kept down a retry period past the bound asserted below, so the outage always
    // exceeds the renew deadline and a late step-down is seen as late, not as missing.
    let start = Instant::now();
    cp.stop_etcd()?;
    let observe = RENEW_DEADLINE + 3 * RETRY_PERIOD;
    tokio::time::sleep(observe).await;
    let leaders_during_outage: Vec<bool> = candidates.iter().map(Candidate::leads).collect();
    let rendered = candidates[leader].metrics.render();
    cp.start_etcd().await?;

    let history = history.lock().map_err(|_| "poisoned")?.clone();
    let stepped_down = history
        .iter()
        .find(|(_, leads)| !leads)
        .map(|(at, _)| at.saturating_duration_since(start))
        .ok_or("the leader kept leading although no renewal could succeed")?;
    eprintln!("stepped down {stepped_down:?} after the API server lost etcd");
    // The renew deadline counts from the last renewal, at most a retry period before the stop;
    // one more retry period is slack for a loaded machine. The lease outlasts that by a retry
    // period at least (last renewal + lease >= stop + lease - retry), so a step-down inside this
    // bound always comes before a standby may take over.
    let bound = RENEW_DEADLINE + 2 * RETRY_PERIOD;
    assert!(bound < lease - RETRY_PERIOD);
    assert!(
        stepped_down <= bound,
        "stepped down {stepped_down:?} after the outage began, later than {bound:?}"
    );
    assert_eq!(
        leaders_during_outage,
        vec![false, false],
        "someone led without renewing"
    );
    assert!(rendered.contains("kube_guardian_leader 0"), "{rendered}");

    // With etcd back, the election resumes.
    wait_for_one_leader(&mut candidates, ELECTION_TIMEOUT).await?;
    for candidate in candidates {
        if let Some(handle) = candidate.handle {
            handle.release().await?;
        }
    }
    Ok(())
}
