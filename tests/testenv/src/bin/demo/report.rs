//! What the demo prints once started: what each cluster holds, memory, and how to use it.

use std::path::Path;

use guardian_testenv::ControlPlane;
use guardian_testenv::demo::{self, Operator, Seeded};

use crate::LEASE_NAMESPACE;
use crate::operators::pid;

pub fn print_summary(cp: &ControlPlane, seeded: &Seeded) {
    // The kinds as applied, so the summary cannot miss one the plan gains.
    let counts: Vec<String> = seeded
        .counts()
        .into_iter()
        .map(|(kind, count)| format!("{count} {kind}"))
        .collect();
    println!(
        "demo: {}: namespaces {}; {}",
        cp.context_name(),
        seeded.namespaces.join(", "),
        counts.join(", ")
    );
}

pub fn print_memory(planes: &[ControlPlane], operators: &[Operator]) {
    let mb = |bytes: u64| bytes / (1024 * 1024);
    for cp in planes {
        let parts: Vec<(&str, u64)> = cp
            .process_ids()
            .into_iter()
            .map(|(name, pid)| (name, demo::rss_bytes(pid).unwrap_or(0)))
            .collect();
        let total: u64 = parts.iter().map(|(_, bytes)| bytes).sum();
        let detail: Vec<String> = parts
            .iter()
            .map(|(name, bytes)| format!("{name} {}", mb(*bytes)))
            .collect();
        println!(
            "demo: {} memory (RSS, MB): {} = {}",
            cp.context_name(),
            detail.join(" + "),
            mb(total)
        );
    }
    for operator in operators {
        let rss = operator.pid().and_then(demo::rss_bytes).unwrap_or(0);
        println!(
            "demo: operator {} memory (RSS): {} MB",
            operator.name(),
            mb(rss)
        );
    }
}

pub fn print_usage(kubeconfig: &Path, check_bin: Option<&Path>, operators: &[Operator]) {
    let check_bin = check_bin.map_or("kube-guardian".into(), |p| p.display().to_string());
    println!(
        "\nTry it (in another shell, from the repository root):\n  \
         export KUBECONFIG={kubeconfig}\n  \
         kubectl config get-contexts\n  \
         kubectl --context demo-a get gp,gex -A\n  \
         kubectl --context demo-a get lease -n {LEASE_NAMESPACE}\n  \
         kubectl --context demo-b get deploy,sts,ds,cronjob,pods -A\n  \
         kubectl get policyreports -A\n  \
         {check_bin} check examples/manifests --policy examples/policies --policy examples/exceptions\n  \
         {check_bin} scan --kubeconfig {kubeconfig} --contexts demo-a,demo-b",
        kubeconfig = kubeconfig.display()
    );
    for operator in operators {
        println!(
            "  operator {} (pid {}) log: {}",
            operator.name(),
            pid(operator),
            operator.log().display()
        );
    }
    if operators.iter().filter(|o| o.context() == "demo-a").count() > 1 {
        let dir = kubeconfig.parent().unwrap_or(Path::new(".")).display();
        println!(
            "\nA takeover: the console's Leases view (:leases) shows which demo-a replica holds the Lease\n\
             (ROLE holder) and which stands by (ROLE standby). Stop the holder from another shell, e.g.\n\
             `kill $(cat {dir}/operator-demo-a-1.pid)`: the standby takes the Lease over (at once, as a\n\
             stopped leader releases it; `kill -9` waits out its 15 s) and the Leases view shows the new\n\
             holder, its transitions and the change under SEEN; the stopped replica's row leaves (after\n\
             `kill -9` it turns `gone`, its record stale)."
        );
    }
    println!();
}
