//! Whether an object is managed by GitOps (Argo CD or Flux), from the labels and annotations
//! they stamp on what they apply: an edit in the cluster is then reverted by the next sync, so
//! the console says so before the write is confirmed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Argo CD's annotation tracking (`<app>:<group>/<kind>:<namespace>/<name>`).
const ARGO_TRACKING_ID: &str = "argocd.argoproj.io/tracking-id";
/// Argo CD's label tracking with a custom label key.
const ARGO_INSTANCE: &str = "argocd.argoproj.io/instance";
/// Argo CD's default label tracking; Helm sets it too, so it counts only beside an Argo CD
/// annotation.
const APP_INSTANCE: &str = "app.kubernetes.io/instance";
const ARGO_PREFIX: &str = "argocd.argoproj.io/";
/// Flux's kustomize-controller and helm-controller label what they apply.
const FLUX: [(&str, &str); 2] = [
    ("kustomize.toolkit.fluxcd.io", "Flux Kustomization"),
    ("helm.toolkit.fluxcd.io", "Flux HelmRelease"),
];

/// What manages the object, like `Argo CD application shop` or `Flux Kustomization
/// flux-system/apps`; `None` when nothing GitOps marks it.
pub fn manager(meta: &ObjectMeta) -> Option<String> {
    let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k));
    let annotations = meta.annotations.as_ref();
    let annotation = |k: &str| annotations.and_then(|a| a.get(k));
    if let Some(id) = annotation(ARGO_TRACKING_ID) {
        let app = id.split_once(':').map_or(id.as_str(), |(app, _)| app);
        return Some(format!("Argo CD application {app}"));
    }
    if let Some(app) = label(ARGO_INSTANCE) {
        return Some(format!("Argo CD application {app}"));
    }
    let argo_annotated = annotations.is_some_and(|a| a.keys().any(|k| k.starts_with(ARGO_PREFIX)));
    if argo_annotated && let Some(app) = label(APP_INSTANCE) {
        return Some(format!("Argo CD application {app}"));
    }
    FLUX.iter().find_map(|(group, what)| {
        let name = label(&format!("{group}/name"))?;
        Some(match label(&format!("{group}/namespace")) {
            Some(ns) => format!("{what} {ns}/{name}"),
            None => format!("{what} {name}"),
        })
    })
}

/// The confirm dialog's warning for an object [`manager`] names.
pub fn warning(meta: &ObjectMeta) -> Option<String> {
    manager(meta).map(|by| {
        format!(
            "! Managed by {by}: its next sync may revert this change; change it in Git to keep it."
        )
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn meta(labels: &[(&str, &str)], annotations: &[(&str, &str)]) -> ObjectMeta {
        let map = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>()
            })
        };
        ObjectMeta {
            name: Some("p".to_owned()),
            labels: map(labels),
            annotations: map(annotations),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn argo_cd_and_flux_marks_name_the_manager() {
        let cases = [
            (
                meta(
                    &[],
                    &[(
                        ARGO_TRACKING_ID,
                        "shop:guardian.kube-guardian.dev/GuardianPolicy:/p",
                    )],
                ),
                "Argo CD application shop",
            ),
            (
                meta(&[(ARGO_INSTANCE, "shop")], &[]),
                "Argo CD application shop",
            ),
            (
                meta(
                    &[(APP_INSTANCE, "shop")],
                    &[("argocd.argoproj.io/sync-options", "Prune=false")],
                ),
                "Argo CD application shop",
            ),
            (
                meta(
                    &[
                        ("kustomize.toolkit.fluxcd.io/name", "apps"),
                        ("kustomize.toolkit.fluxcd.io/namespace", "flux-system"),
                    ],
                    &[],
                ),
                "Flux Kustomization flux-system/apps",
            ),
            (
                meta(&[("helm.toolkit.fluxcd.io/name", "guardian")], &[]),
                "Flux HelmRelease guardian",
            ),
        ];
        for (meta, want) in cases {
            assert_eq!(manager(&meta).as_deref(), Some(want), "{meta:?}");
        }
        let warned = warning(&meta(&[(ARGO_INSTANCE, "shop")], &[])).expect("warned");
        assert!(warned.contains("next sync may revert"), "{warned}");
    }

    #[test]
    fn unmanaged_objects_and_plain_helm_labels_are_not_gitops() {
        assert_eq!(manager(&meta(&[], &[])), None);
        // Helm alone sets app.kubernetes.io/instance: no Argo CD annotation, no warning.
        let helm = meta(
            &[
                (APP_INSTANCE, "guardian"),
                ("app.kubernetes.io/managed-by", "Helm"),
            ],
            &[("meta.helm.sh/release-name", "guardian")],
        );
        assert_eq!(manager(&helm), None);
        assert_eq!(warning(&helm), None);
    }
}
