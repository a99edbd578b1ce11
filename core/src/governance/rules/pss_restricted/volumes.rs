//! Restricted volume types.

use super::RESTRICTED;
use crate::governance::rules::support::volumes;
use crate::governance::traits::{BuiltinRule, Rule, RuleMeta, Violation, no_params};
use crate::model::{Category, Severity};
use crate::workload::WorkloadView;

pub(super) const VOLUME_TYPES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "pss-volume-types",
        title: "Restricted volume types",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: RESTRICTED,
        description: "Only core volume types and those backed by PersistentVolumes are allowed: configMap, csi, \
                      downwardAPI, emptyDir, ephemeral, image (allowed since Kubernetes 1.33), persistentVolumeClaim, \
                      projected and secret.",
        remediation: "Replace the volume with one of the allowed types, e.g. a persistentVolumeClaim for network \
                      storage (nfs, iscsi, ...) or an emptyDir for scratch space.",
        parameters: &[],
        example_fail: "containers:\n- name: app\nvolumes:\n- name: data\n  nfs:\n    server: nfs.example.com\n    path: /export\n",
        example_pass: "containers:\n- name: app\nvolumes:\n- name: data\n  persistentVolumeClaim:\n    claimName: data\n",
    },
    build: no_params::<VolumeTypes>,
};

#[derive(Debug, Default)]
struct VolumeTypes;

const ALLOWED_VOLUME_TYPES: [&str; 9] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

impl Rule for VolumeTypes {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for (i, name, volume) in volumes(w) {
            // As PSS: a volume passes when it sets any allowed source.
            let mut sources = volume.iter().filter(|(k, v)| *k != "name" && !v.is_null());
            if sources
                .clone()
                .any(|(k, _)| ALLOWED_VOLUME_TYPES.contains(&k.as_str()))
            {
                continue;
            }
            let (path, message) = match sources.next() {
                Some((source, _)) => (
                    w.spec_path(&format!("volumes[{i}].{source}")),
                    format!("volume {name:?} uses the restricted volume type {source:?}"),
                ),
                None => (
                    w.spec_path(&format!("volumes[{i}]")),
                    format!("volume {name:?} has no volume source of an allowed type"),
                ),
            };
            out.push(Violation::new(path, message));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::governance::rules::testing::{
        KINDS, assert_passes, check, paths, spec_path, workload,
    };

    #[test]
    fn each_restricted_volume_is_reported_with_its_type() {
        let spec = "containers: [{name: app}]\nvolumes:\n\
                    - {name: cfg, configMap: {name: c}}\n\
                    - {name: share, nfs: {server: s, path: /x}}\n\
                    - {name: host, hostPath: {path: /etc}}\n\
                    - {name: repo, gitRepo: {repository: r}}\n\
                    - {name: empty}";
        for kind in KINDS {
            let v = check("pss-volume-types", &workload(kind, spec));
            let expected = [
                "volumes[1].nfs",
                "volumes[2].hostPath",
                "volumes[3].gitRepo",
                "volumes[4]",
            ]
            .map(|s| spec_path(kind, s));
            assert_eq!(paths(&v), expected, "{kind:?}");
            assert!(
                v[0].message.contains("\"share\"") && v[0].message.contains("\"nfs\""),
                "{}",
                v[0].message
            );
            assert!(v.iter().all(|v| v.container.is_none()));
        }
    }

    #[test]
    fn allowed_volume_types_pass() {
        let spec = "containers: [{name: app}]\nvolumes:\n\
                    - {name: a, configMap: {name: c}}\n- {name: b, csi: {driver: d}}\n\
                    - {name: c, downwardAPI: {items: []}}\n- {name: d, emptyDir: {}}\n\
                    - {name: e, ephemeral: {volumeClaimTemplate: {spec: {}}}}\n- {name: f, image: {reference: r}}\n\
                    - {name: g, persistentVolumeClaim: {claimName: p}}\n- {name: h, projected: {sources: []}}\n\
                    - {name: i, secret: {secretName: s}}";
        assert_passes("pss-volume-types", spec);
    }
}
