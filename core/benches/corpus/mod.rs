//! A deterministic corpus of mixed workload manifests (~5 KB each), half compliant, half not.

use std::fmt::Write as _;

const KINDS: [&str; 7] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "Job",
    "CronJob",
    "Pod",
];

/// A tiny deterministic generator, so every run measures the same corpus.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn container(out: &mut String, pad: &str, name: &str, rng: &mut Lcg, good: bool) {
    let image = if good || rng.chance(50) {
        format!(
            "registry.example.com/team/{name}:1.{}.{}",
            rng.next() % 20,
            rng.next() % 10
        )
    } else {
        format!("docker.io/library/{name}:latest")
    };
    let _ = writeln!(out, "{pad}- name: {name}\n{pad}  image: {image}");
    let _ = writeln!(
        out,
        "{pad}  ports:\n{pad}  - {{containerPort: 8080, name: http}}"
    );
    let _ = writeln!(out, "{pad}  env:");
    for i in 0..10 {
        let _ = writeln!(
            out,
            "{pad}  - name: FEATURE_FLAG_{i}_{}\n{pad}    value: \"{}\"",
            name.to_uppercase(),
            rng.next()
        );
    }
    if !good && rng.chance(40) {
        let _ = writeln!(
            out,
            "{pad}  - name: API_TOKEN\n{pad}    value: not-a-real-token"
        );
    }
    if good || rng.chance(50) {
        let _ = writeln!(
            out,
            "{pad}  resources:\n{pad}    requests: {{cpu: 100m, memory: 128Mi}}\n{pad}    limits: {{cpu: 500m, memory: 256Mi}}"
        );
    }
    if good || rng.chance(50) {
        let _ = writeln!(
            out,
            "{pad}  livenessProbe:\n{pad}    httpGet: {{path: /healthz, port: 8080}}\n{pad}  readinessProbe:\n{pad}    httpGet: {{path: /readyz, port: 8080}}"
        );
    }
    let _ = writeln!(out, "{pad}  securityContext:");
    if good {
        let _ = writeln!(
            out,
            "{pad}    allowPrivilegeEscalation: false\n{pad}    readOnlyRootFilesystem: true\n{pad}    capabilities: {{drop: [ALL]}}"
        );
    } else {
        let _ = writeln!(
            out,
            "{pad}    privileged: {}\n{pad}    capabilities: {{add: [NET_ADMIN]}}",
            rng.chance(50)
        );
    }
    let _ = writeln!(
        out,
        "{pad}  volumeMounts:\n{pad}  - {{name: config, mountPath: /etc/app}}"
    );
}

fn pod_spec(out: &mut String, pad: &str, rng: &mut Lcg, good: bool) {
    let _ = writeln!(out, "{pad}automountServiceAccountToken: {}", !good);
    if good {
        let _ = writeln!(
            out,
            "{pad}securityContext:\n{pad}  runAsNonRoot: true\n{pad}  runAsUser: 10001\n{pad}  seccompProfile: {{type: RuntimeDefault}}"
        );
    } else if rng.chance(50) {
        let _ = writeln!(out, "{pad}hostNetwork: true");
    }
    let _ = writeln!(out, "{pad}initContainers:");
    container(out, pad, "migrate", rng, good);
    let _ = writeln!(out, "{pad}containers:");
    container(out, pad, "app", rng, good);
    container(out, pad, "sidecar", rng, good);
    let _ = writeln!(
        out,
        "{pad}volumes:\n{pad}- name: config\n{pad}  configMap: {{name: app-config}}"
    );
    if !good && rng.chance(30) {
        let _ = writeln!(
            out,
            "{pad}- name: host\n{pad}  hostPath: {{path: /var/run}}"
        );
    }
}

fn metadata(out: &mut String, pad: &str, name: &str, namespace: &str) {
    let _ = writeln!(
        out,
        "{pad}metadata:\n{pad}  name: {name}\n{pad}  namespace: {namespace}\n{pad}  labels:"
    );
    let _ = writeln!(
        out,
        "{pad}    app.kubernetes.io/name: {name}\n{pad}    app.kubernetes.io/part-of: bench\n{pad}    team: bench"
    );
    let _ = writeln!(out, "{pad}  annotations:");
    for i in 0..6 {
        let _ = writeln!(
            out,
            "{pad}    example.com/annotation-{i}: \"some descriptive value number {i} for {name}\""
        );
    }
}

/// One manifest of the corpus.
pub fn manifest(index: usize) -> String {
    let mut rng = Lcg(index as u64 + 1);
    let kind = KINDS[index % KINDS.len()];
    let good = index.is_multiple_of(2);
    let name = format!("{}-{index}", kind.to_lowercase());
    let api = match kind {
        "Pod" => "v1",
        "Job" | "CronJob" => "batch/v1",
        _ => "apps/v1",
    };
    let mut out = format!("apiVersion: {api}\nkind: {kind}\n");
    metadata(&mut out, "", &name, &format!("team-{}", index % 10));
    out.push_str("spec:\n");
    match kind {
        "Pod" => pod_spec(&mut out, "  ", &mut rng, good),
        "CronJob" => {
            out.push_str(
                "  schedule: \"*/5 * * * *\"\n  jobTemplate:\n    spec:\n      template:\n",
            );
            metadata(&mut out, "        ", &name, &format!("team-{}", index % 10));
            out.push_str("        spec:\n          restartPolicy: OnFailure\n");
            pod_spec(&mut out, "          ", &mut rng, good);
        }
        _ => {
            if matches!(kind, "Deployment" | "StatefulSet" | "ReplicaSet") {
                let _ = writeln!(out, "  replicas: {}", if good { 3 } else { 1 });
            }
            let _ = writeln!(
                out,
                "  selector:\n    matchLabels: {{app.kubernetes.io/name: {name}}}\n  template:"
            );
            metadata(&mut out, "    ", &name, &format!("team-{}", index % 10));
            out.push_str("    spec:\n");
            pod_spec(&mut out, "      ", &mut rng, good);
        }
    }
    out
}

/// The whole corpus as one multi-document YAML text.
pub fn corpus(count: usize) -> Vec<String> {
    (0..count).map(manifest).collect()
}
