//! The project's custom resources and their CRDs.

mod exception;
mod policy;

pub use exception::{ExceptionResources, GuardianException, GuardianExceptionSpec};
pub use policy::{
    CelRuleSpec, Enforcement, GuardianPolicy, GuardianPolicySpec, GuardianPolicyStatus, MatchSpec,
    PolicySummary, Profile, RuleSpec, SeverityCounts, WorkloadKindName,
};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// Every CRD the project defines, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![GuardianPolicy::crd(), GuardianException::crd()]
}

/// Every CRD as multi-document YAML, the form `kube-guardian crd` prints and the chart ships.
pub fn crds_yaml() -> Result<String, crate::Error> {
    let mut out = String::new();
    for crd in all_crds() {
        let doc = serde_yaml_ng::to_string(&crd).map_err(crate::Error::SerializeCrd)?;
        out.push_str("---\n");
        out.push_str(&doc);
    }
    Ok(out)
}
