//! Where images come from: pinned tags and allowed registries.

use std::borrow::Cow;

use super::BEST_PRACTICES;
use crate::governance::rules::support::{Quoted, container_violation};
use crate::governance::traits::{
    BuiltinRule, ParamDoc, Params, Rule, RuleMeta, Violation, no_params,
};
use crate::model::{Category, Severity};
use crate::workload::{ContainerRef, WorkloadView};

/// Every container with a non-empty image, and that image.
fn images<'v, 'a>(
    w: &'v WorkloadView<'a>,
) -> impl Iterator<Item = (&'v ContainerRef<'a>, &'a str)> + 'v {
    w.containers()
        .filter_map(|c| c.image().filter(|i| !i.is_empty()).map(|i| (c, i)))
}

pub(super) const IMAGE_TAG_PINNED: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "image-tag-pinned",
        title: "Image tag pinned",
        category: Category::Security,
        severity: Severity::Medium,
        profiles: BEST_PRACTICES,
        description: "An image without a tag, or tagged :latest, can change under the same name, so rollouts are \
                      neither repeatable nor reviewable. A digest (@sha256:...) counts as pinned.",
        remediation: "Set image to a specific version tag (e.g. nginx:1.27.3) or, better, a digest \
                      (nginx@sha256:...).",
        parameters: &[],
        example_fail: "containers:\n- name: app\n  image: nginx:latest\n",
        example_pass: "containers:\n- name: app\n  image: nginx:1.27.3\n",
    },
    build: no_params::<ImageTagPinned>,
};

#[derive(Debug, Default)]
struct ImageTagPinned;

/// Why an image reference is not pinned, or `None` when it is.
fn unpinned(image: &str) -> Option<&'static str> {
    if image.contains('@') {
        return None;
    }
    // A tag follows the last `:` of the last path segment; an earlier `:` is a registry port.
    let last_segment = image.rsplit_once('/').map_or(image, |(_, last)| last);
    match last_segment.split_once(':') {
        None | Some((_, "")) => Some("has no tag, so it resolves to :latest"),
        Some((_, "latest")) => Some("uses the mutable tag :latest"),
        Some(_) => None,
    }
}

impl Rule for ImageTagPinned {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        for (c, image) in images(w) {
            if let Some(why) = unpinned(image) {
                out.push(container_violation(
                    c,
                    "image",
                    format_args!("image {} {why}", Quoted(image)),
                ));
            }
        }
    }
}

pub(super) const ALLOWED_REGISTRIES: BuiltinRule = BuiltinRule {
    meta: RuleMeta {
        id: "allowed-registries",
        title: "Allowed image registries",
        category: Category::Security,
        severity: Severity::High,
        profiles: BEST_PRACTICES,
        description: "Images must come from one of the configured registries or repository prefixes. With the default \
                      empty list there is no restriction and the rule reports nothing.",
        remediation: "Pull the image from an allowed registry (mirror it there), or add its registry to the \
                      rule's registries parameter.",
        parameters: &[ParamDoc {
            name: "registries",
            description: "Allowed image prefixes: a registry host (registry.example.com, localhost:5000) or a \
                          repository path (ghcr.io/acme). A prefix matches whole path segments only, and images are \
                          compared fully qualified, so nginx is docker.io/library/nginx. Empty means no restriction.",
            default: "[]",
        }],
        example_fail: "# parameters: {registries: [registry.example.com]}\ncontainers:\n- name: app\n  image: docker.io/library/nginx:1.27\n",
        example_pass: "# parameters: {registries: [registry.example.com]}\ncontainers:\n- name: app\n  image: registry.example.com/nginx:1.27\n",
    },
    build: build_allowed_registries,
};

#[derive(Debug)]
struct AllowedRegistries {
    prefixes: Vec<String>,
}

fn build_allowed_registries(params: &Params) -> Result<Box<dyn Rule>, String> {
    params.reject_unknown(&["registries"])?;
    let prefixes: Vec<String> = params
        .strings("registries", &[])?
        .into_iter()
        .map(|p| p.trim_end_matches('/').to_owned())
        .collect();
    if prefixes.iter().any(String::is_empty) {
        return Err(
            "registries must not contain an empty entry (it would allow every image)".to_owned(),
        );
    }
    Ok(Box::new(AllowedRegistries { prefixes }))
}

/// The image with its implicit Docker Hub registry made explicit.
fn fully_qualified(image: &str) -> Cow<'_, str> {
    match image.split_once('/') {
        None => Cow::Owned(format!("docker.io/library/{image}")),
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => Cow::Borrowed(image),
        Some(_) => Cow::Owned(format!("docker.io/{image}")),
    }
}

/// `prefix` covers `image` up to a segment, tag or digest boundary.
fn covers(prefix: &str, image: &str) -> bool {
    image
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ':', '@']))
}

impl Rule for AllowedRegistries {
    fn check(&self, w: &WorkloadView<'_>, out: &mut Vec<Violation>) {
        if self.prefixes.is_empty() {
            return;
        }
        for (c, image) in images(w) {
            let qualified = fully_qualified(image);
            if !self.prefixes.iter().any(|p| covers(p, &qualified)) {
                out.push(container_violation(
                    c,
                    "image",
                    format_args!(
                        "uses image {image:?} from a registry that is not allowed (allowed: {})",
                        self.prefixes.join(", ")
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{covers, fully_qualified, unpinned};
    use crate::governance::rules::testing::{
        KINDS, assert_one, assert_passes, assert_violation, build_error, check, check_with,
        spec_path, workload,
    };

    #[test]
    fn tags_digests_and_registry_ports_are_told_apart() {
        assert!(unpinned("nginx").is_some());
        assert!(unpinned("nginx:latest").is_some());
        assert!(
            unpinned("localhost:5000/app").is_some(),
            "a registry port is not a tag"
        );
        assert!(unpinned("localhost:5000/app:latest").is_some());
        assert!(unpinned("nginx:").is_some());
        assert_eq!(unpinned("localhost:5000/app:1.2"), None);
        assert_eq!(unpinned("nginx@sha256:0123abcd"), None);
        assert_eq!(unpinned("ghcr.io/acme/app:latest@sha256:0123abcd"), None);
        assert_eq!(unpinned("ghcr.io/acme/app:v2"), None);
    }

    #[test]
    fn unpinned_images_fail_in_every_container_list() {
        let spec = "initContainers: [{name: init, image: 'localhost:5000/migrate'}]\n\
                    containers: [{name: app, image: 'nginx:1.27'}, {name: side, image: 'envoy:latest'}]\n\
                    ephemeralContainers: [{name: dbg, image: busybox}]";
        for kind in KINDS {
            let v = check("image-tag-pinned", &workload(kind, spec));
            assert_eq!(v.len(), 3, "{v:#?}");
            assert_violation(
                &v[0],
                &spec_path(kind, "initContainers[0].image"),
                Some("init"),
            );
            assert_violation(&v[1], &spec_path(kind, "containers[1].image"), Some("side"));
            assert_violation(
                &v[2],
                &spec_path(kind, "ephemeralContainers[0].image"),
                Some("dbg"),
            );
            assert!(v[1].message.contains(":latest"), "{}", v[1].message);
        }
    }

    #[test]
    fn pinned_images_pass() {
        let spec = "initContainers: [{name: init, image: 'localhost:5000/migrate:3'}]\n\
                    containers: [{name: app, image: 'nginx@sha256:abc'}, {name: noimage}]";
        assert_passes("image-tag-pinned", spec);
    }

    #[test]
    fn registry_prefixes_match_whole_segments_of_qualified_images() {
        assert_eq!(fully_qualified("nginx"), "docker.io/library/nginx");
        assert_eq!(fully_qualified("acme/app:1"), "docker.io/acme/app:1");
        assert_eq!(fully_qualified("localhost:5000/app"), "localhost:5000/app");
        assert!(covers("ghcr.io/acme", "ghcr.io/acme/app:1"));
        assert!(!covers("ghcr.io/acme", "ghcr.io/acme-evil/app:1"));
        assert!(!covers(
            "registry.example.com",
            "registry.example.com.evil.io/app"
        ));
        assert!(covers(
            "docker.io/library/nginx",
            "docker.io/library/nginx@sha256:ab"
        ));
    }

    #[test]
    fn images_outside_the_allowed_registries_fail() {
        let params = json!({"registries": ["registry.example.com/", "docker.io/library"]});
        let spec = "initContainers: [{name: init, image: 'nginx:1.27'}]\n\
                    containers: [{name: app, image: 'registry.example.com/app:1'}, {name: side, image: 'ghcr.io/x/y:1'}]\n\
                    ephemeralContainers: [{name: dbg, image: 'acme/tools:1'}]";
        for kind in KINDS {
            let v = check_with("allowed-registries", &params, &workload(kind, spec));
            assert_eq!(v.len(), 2, "{v:#?}");
            assert_violation(&v[0], &spec_path(kind, "containers[1].image"), Some("side"));
            assert_violation(
                &v[1],
                &spec_path(kind, "ephemeralContainers[0].image"),
                Some("dbg"),
            );
            assert!(
                v[0].message.contains("ghcr.io/x/y:1")
                    && v[0].message.contains("registry.example.com")
            );
        }
    }

    #[test]
    fn allowed_registries_pass_and_the_default_is_no_restriction() {
        let spec = "containers: [{name: app, image: 'localhost:5000/app:1'}]";
        let params = json!({"registries": ["localhost:5000"]});
        for kind in KINDS {
            assert_eq!(
                check_with("allowed-registries", &params, &workload(kind, spec)),
                []
            );
            assert_eq!(
                check(
                    "allowed-registries",
                    &workload(kind, "containers: [{name: a, image: 'evil.io/x:1'}]")
                ),
                []
            );
            let other = json!({"registries": ["ghcr.io"]});
            let v = check_with("allowed-registries", &other, &workload(kind, spec));
            assert_one(&v, &spec_path(kind, "containers[0].image"), Some("app"));
        }
    }

    #[test]
    fn allowed_registries_parameters_are_validated() {
        assert!(
            build_error("allowed-registries", &json!({"registry": ["a"]}))
                .contains("unknown parameter")
        );
        assert!(
            build_error("allowed-registries", &json!({"registries": "a"}))
                .contains("list of strings")
        );
        assert!(build_error("allowed-registries", &json!({"registries": ["/"]})).contains("empty"));
    }
}
