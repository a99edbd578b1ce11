//! Turning GuardianPolicies and GuardianExceptions into a `PolicySet`, collecting every error.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use super::exceptions::{CompiledException, ExceptionIndex};
use super::matcher::CompiledMatch;
use super::{CompiledPolicy, CompiledRule, PolicySet, RuleKind};
use crate::Error;
use crate::crd::{GuardianException, GuardianPolicy, RuleSpec};
use crate::governance::cel::{CelExpression, CelLoadError};
use crate::governance::{self, BuiltinRule, Params};
use crate::model::{Category, RuleInfo, RuleRef, Severity};
use crate::workload::WorkloadKind;

/// A policy or exception left out of a partially compiled set, with every error it has.
#[derive(Debug)]
pub struct Rejected {
    /// `GuardianPolicy` or `GuardianException`.
    pub kind: &'static str,
    /// The policy name, or `namespace/name` of an exception.
    pub name: String,
    pub errors: Vec<Error>,
}

/// Compiles what is valid and reports the rest, so one bad policy never disables the others.
pub(super) fn compile_partial(
    policies: &[GuardianPolicy],
    exceptions: &[GuardianException],
) -> (PolicySet, Vec<Rejected>) {
    let mut rejected = Vec::new();
    let mut compiled = Vec::with_capacity(policies.len());
    let mut names = HashSet::new();
    for policy in policies {
        let name = policy.metadata.name.clone().unwrap_or_default();
        let mut errors = Vec::new();
        if !names.insert(name.clone()) {
            errors.push(Error::DuplicatePolicy {
                policy: name.clone(),
            });
        } else if let Some(p) = compile_policy(&name, policy, &mut errors)
            && errors.is_empty()
        {
            compiled.push(p);
        }
        if !errors.is_empty() {
            rejected.push(Rejected {
                kind: "GuardianPolicy",
                name,
                errors,
            });
        }
    }
    for ex in exceptions {
        match CompiledException::compile(ex) {
            Ok(c) => {
                if let Some(p) = compiled.iter_mut().find(|p| *p.name == *c.policy) {
                    p.exceptions.push(c);
                }
            }
            Err((field, reason)) => {
                let namespace = ex.metadata.namespace.clone().unwrap_or_default();
                let name = ex.metadata.name.clone().unwrap_or_default();
                rejected.push(Rejected {
                    kind: "GuardianException",
                    name: format!("{namespace}/{name}"),
                    errors: vec![Error::InvalidException {
                        namespace,
                        name,
                        field,
                        reason,
                    }],
                });
            }
        }
    }
    let rules = rule_infos(&compiled);
    (
        PolicySet {
            policies: compiled,
            rules,
        },
        rejected,
    )
}

/// Compiles everything or nothing: what offline checks want, where a broken policy must stop the run.
pub(super) fn compile(
    policies: &[GuardianPolicy],
    exceptions: &[GuardianException],
) -> Result<PolicySet, Error> {
    let (set, rejected) = compile_partial(policies, exceptions);
    if rejected.is_empty() {
        Ok(set)
    } else {
        Err(Error::PolicySet(
            rejected.into_iter().flat_map(|r| r.errors).collect(),
        ))
    }
}

fn compile_policy(
    name: &str,
    policy: &GuardianPolicy,
    errors: &mut Vec<Error>,
) -> Option<CompiledPolicy> {
    let spec = &policy.spec;
    if spec.profiles.is_empty() && spec.rules.is_empty() {
        errors.push(Error::EmptyPolicy {
            policy: name.to_owned(),
        });
        return None;
    }
    let matcher = match CompiledMatch::compile(&spec.match_) {
        Ok(m) => Some(m),
        Err((field, reason)) => {
            errors.push(Error::InvalidSelector {
                policy: name.to_owned(),
                field,
                reason,
            });
            None
        }
    };
    // One name shared by the policy and every finding of its rules.
    let shared_name: Arc<str> = Arc::from(name);
    // Profile rules first, in library order; an explicit rule with the same id replaces it.
    let mut ordered: Vec<(Arc<str>, Option<CompiledRule>)> = Vec::new();
    for profile in &spec.profiles {
        for builtin in governance::profile_rules(*profile) {
            if !ordered.iter().any(|(id, _)| **id == *builtin.meta.id) {
                let rule = build_builtin(&shared_name, builtin, None, None, errors);
                ordered.push((Arc::from(builtin.meta.id), rule));
            }
        }
    }
    let mut explicit = HashSet::new();
    for spec_rule in &spec.rules {
        let Some((id, rule)) = compile_rule(&shared_name, spec_rule, errors) else {
            continue;
        };
        if !explicit.insert(id.clone()) {
            errors.push(Error::DuplicateRule {
                policy: name.to_owned(),
                rule: id.to_string(),
            });
            continue;
        }
        match ordered.iter_mut().find(|(existing, _)| *existing == id) {
            Some(slot) => slot.1 = rule,
            None => ordered.push((id, rule)),
        }
    }
    let rules: Vec<CompiledRule> = ordered.into_iter().filter_map(|(_, r)| r).collect();
    let by_kind = WorkloadKind::ALL.map(|kind| {
        (0..rules.len())
            .filter(|&i| rules[i].applies_to(kind))
            .collect()
    });
    Some(CompiledPolicy {
        name: shared_name,
        enforcement: spec.enforcement,
        matcher: matcher?,
        rules,
        by_kind,
        exceptions: ExceptionIndex::default(),
    })
}

fn compile_rule(
    policy: &Arc<str>,
    spec: &RuleSpec,
    errors: &mut Vec<Error>,
) -> Option<(Arc<str>, Option<CompiledRule>)> {
    match (&spec.id, &spec.cel) {
        (Some(id), None) => {
            let Some(builtin) = governance::rule(id) else {
                errors.push(Error::UnknownRule {
                    policy: policy.to_string(),
                    rule: id.clone(),
                });
                return None;
            };
            let rule = build_builtin(
                policy,
                builtin,
                spec.parameters.as_ref(),
                spec.severity,
                errors,
            );
            Some((Arc::from(id.as_str()), rule))
        }
        (None, Some(cel)) => {
            let id: Arc<str> = Arc::from(cel.name.as_str());
            let expr = match CelExpression::compile(&cel.expression) {
                Ok(expr) => expr,
                Err(CelLoadError::Syntax {
                    line,
                    column,
                    message,
                }) => {
                    errors.push(Error::CelCompile {
                        policy: policy.to_string(),
                        rule: cel.name.clone(),
                        line,
                        column,
                        message,
                    });
                    return Some((id, None));
                }
                Err(CelLoadError::TooExpensive(reason)) => {
                    errors.push(Error::CelTooExpensive {
                        policy: policy.to_string(),
                        rule: cel.name.clone(),
                        reason,
                    });
                    return Some((id, None));
                }
            };
            let rule = CompiledRule {
                reference: Arc::new(RuleRef {
                    policy: policy.clone(),
                    id: id.clone(),
                    severity: spec.severity.unwrap_or(cel.severity),
                    category: Category::Security,
                    remediation: Arc::from(cel.remediation.as_deref().unwrap_or(&cel.message)),
                }),
                title: cel.message.clone(),
                kind: RuleKind::Cel {
                    expr,
                    message: cel.message.clone(),
                },
            };
            Some((id, Some(rule)))
        }
        _ => {
            errors.push(Error::InvalidParameters {
                policy: policy.to_string(),
                rule: spec.id.clone().unwrap_or_default(),
                reason: "a rule sets exactly one of id (a built-in rule) or cel (a custom rule)"
                    .to_owned(),
            });
            None
        }
    }
}

/// `severity` is the policy's override of the rule's own, if any.
fn build_builtin(
    policy: &Arc<str>,
    builtin: &'static BuiltinRule,
    params: Option<&serde_json::Map<String, serde_json::Value>>,
    severity: Option<Severity>,
    errors: &mut Vec<Error>,
) -> Option<CompiledRule> {
    match (builtin.build)(&Params(params)) {
        Ok(rule) => Some(CompiledRule {
            reference: Arc::new(RuleRef {
                policy: policy.clone(),
                id: Arc::from(builtin.meta.id),
                severity: severity.unwrap_or(builtin.meta.severity),
                category: builtin.meta.category,
                remediation: Arc::from(builtin.meta.remediation),
            }),
            title: builtin.meta.title.to_owned(),
            kind: RuleKind::Builtin(rule),
        }),
        Err(reason) => {
            errors.push(Error::InvalidParameters {
                policy: policy.to_string(),
                rule: builtin.meta.id.to_owned(),
                reason,
            });
            None
        }
    }
}

/// One entry per rule id across all policies, with the highest effective severity.
fn rule_infos(policies: &[CompiledPolicy]) -> Vec<RuleInfo> {
    let mut by_id: BTreeMap<&str, RuleInfo> = BTreeMap::new();
    for (rule, reference) in policies
        .iter()
        .flat_map(|p| &p.rules)
        .map(|r| (r, &*r.reference))
    {
        let info = by_id.entry(&reference.id).or_insert_with(|| RuleInfo {
            id: reference.id.to_string(),
            title: rule.title.clone(),
            category: reference.category,
            severity: reference.severity,
            description: match &rule.kind {
                RuleKind::Builtin(_) => governance::rule(&reference.id)
                    .map_or_else(String::new, |b| b.meta.description.to_owned()),
                RuleKind::Cel { .. } => format!("Custom CEL rule: {}", rule.title),
            },
            remediation: reference.remediation.to_string(),
            custom: matches!(rule.kind, RuleKind::Cel { .. }),
        });
        info.severity = info.severity.max(reference.severity);
    }
    by_id.into_values().collect()
}
