//! `kube-guardian rules`: the library as a table, JSON or Markdown, and `rules explain ID`.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use guardian_core::governance::{self, BuiltinRule};
use serde::Serialize;

use crate::cli::RulesFormat;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleJson<'a> {
    id: &'a str,
    title: &'a str,
    category: &'a str,
    severity: &'a str,
    profiles: Vec<&'a str>,
    description: &'a str,
    remediation: &'a str,
    parameters: Vec<ParamJson<'a>>,
}

#[derive(Serialize)]
struct ParamJson<'a> {
    name: &'a str,
    description: &'a str,
    default: serde_json::Value,
}

fn profiles(rule: &BuiltinRule) -> Vec<&'static str> {
    rule.meta.profiles.iter().map(|p| p.as_str()).collect()
}

/// The rule list in the requested format.
pub fn list(format: RulesFormat) -> Result<String> {
    let library = governance::library();
    match format {
        RulesFormat::Json => {
            let rules: Vec<RuleJson<'_>> = library.iter().map(|r| to_json(r)).collect();
            Ok(serde_json::to_string_pretty(&rules).context("serializing the rule list")? + "\n")
        }
        RulesFormat::Markdown => Ok(markdown(library)),
        RulesFormat::Table => Ok(table(library)),
    }
}

fn to_json(rule: &BuiltinRule) -> RuleJson<'_> {
    let m = &rule.meta;
    RuleJson {
        id: m.id,
        title: m.title,
        category: m.category.as_str(),
        severity: m.severity.as_str(),
        profiles: profiles(rule),
        description: m.description,
        remediation: m.remediation,
        parameters: m
            .parameters
            .iter()
            .map(|p| ParamJson {
                name: p.name,
                description: p.description,
                default: serde_json::from_str(p.default).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    }
}

fn table(library: &[&BuiltinRule]) -> String {
    let width = library
        .iter()
        .map(|r| r.meta.id.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let mut out = format!(
        "{:<width$}  {:<8}  {:<11}  TITLE\n",
        "ID", "SEVERITY", "CATEGORY"
    );
    for r in library {
        let m = &r.meta;
        let _ = writeln!(
            out,
            "{:<width$}  {:<8}  {:<11}  {}",
            m.id, m.severity, m.category, m.title
        );
    }
    out
}

fn markdown(library: &[&BuiltinRule]) -> String {
    let mut out =
        String::from("| id | title | category | severity | profiles |\n|---|---|---|---|---|\n");
    for r in library {
        let m = &r.meta;
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            m.id,
            m.title,
            m.category,
            m.severity,
            profiles(r).join(", ")
        );
    }
    out
}

/// One rule in full, with examples.
pub fn explain(id: &str) -> Result<String> {
    let Some(rule) = governance::rule(id) else {
        let near: Vec<&str> = governance::library()
            .iter()
            .map(|r| r.meta.id)
            .filter(|candidate| candidate.contains(id) || id.contains(candidate))
            .collect();
        if near.is_empty() {
            bail!("unknown rule {id:?}; run `kube-guardian rules` to list them");
        }
        bail!("unknown rule {id:?}; did you mean {}?", near.join(", "));
    };
    let m = &rule.meta;
    let mut out = format!(
        "{}  ({})\n\n{}\n\nseverity: {}\ncategory: {}\nprofiles: {}\n\nremediation: {}\n",
        m.id,
        m.title,
        m.description,
        m.severity,
        m.category,
        profiles(rule).join(", "),
        m.remediation
    );
    if !m.parameters.is_empty() {
        out.push_str("\nparameters:\n");
        for p in m.parameters {
            let _ = writeln!(
                out,
                "  {}: {} (default: {})",
                p.name, p.description, p.default
            );
        }
    }
    let _ = write!(
        out,
        "\nfails:\n{}\npasses:\n{}",
        indent(m.example_fail),
        indent(m.example_pass)
    );
    Ok(out)
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}
