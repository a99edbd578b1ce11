//! `kube-guardian check`: the engine on manifest files, in parallel, for CI pipelines.

mod input;
pub mod policies;
pub mod report;

use std::cell::OnceCell;
use std::path::PathBuf;
use std::sync::Arc;

pub use input::parse_size;

use guardian_core::engine::{EvalContext, Evaluation, PolicySet};
use guardian_core::model::{Finding, SourceLocation};
use rayon::prelude::*;
use serde_json::Value;

use guardian_core::load::{self, Document};
use input::Source;
use report::{CheckReport, InputError, SkippedDocument};

/// Checks every manifest under `paths` against `set`. Never fails as a whole: unreadable files
/// and invalid documents become `input_errors`, and every other file is still checked.
/// No file is read past `max_file_size` bytes.
pub fn run(
    set: &PolicySet,
    paths: &[PathBuf],
    ctx: &EvalContext<'_>,
    max_file_size: u64,
) -> CheckReport {
    let mut report = CheckReport {
        rules: set.rules().to_vec(),
        ..CheckReport::default()
    };
    let files = input::expand(paths, &mut report.input_errors);
    let results: Vec<FileResult> = files
        .par_iter()
        .map(|path| {
            panic_if_asked(path);
            match input::read(path, max_file_size) {
                Ok(source) => check_source(set, &source, ctx),
                Err(e) => FileResult {
                    input_errors: vec![e],
                    ..FileResult::default()
                },
            }
        })
        .collect();
    // Room for every finding at once: the report is megabytes, and growing it by doubling
    // copied each finding again and touched fresh pages on every step.
    report
        .findings
        .reserve_exact(results.iter().map(|r| r.findings.len()).sum());
    for r in results {
        report.findings.extend(r.findings);
        report.skipped_documents.extend(r.skipped);
        report.input_errors.extend(r.input_errors);
        report.resources_evaluated += r.resources;
    }
    sort(&mut report);
    report
}

/// Lets tests prove that a panic in a worker thread still ends the run with exit code 2 and a
/// message: debug builds panic on the file named by `KUBE_GUARDIAN_TEST_PANIC_ON`. Release builds
/// do not have it.
#[cfg(debug_assertions)]
fn panic_if_asked(path: &std::path::Path) {
    if std::env::var_os("KUBE_GUARDIAN_TEST_PANIC_ON").is_some_and(|p| p == path.as_os_str()) {
        panic!(
            "KUBE_GUARDIAN_TEST_PANIC_ON asked for a panic on {}",
            path.display()
        );
    }
}

#[cfg(not(debug_assertions))]
fn panic_if_asked(_: &std::path::Path) {}

/// Checks one in-memory source.
///
/// Each document is parsed where it is evaluated, right before: the engine then reads an
/// object still in the CPU's caches, and a file of many documents never holds all their trees
/// at once (a tree takes about 15 times its text).
pub fn check_source(set: &PolicySet, source: &Source, ctx: &EvalContext<'_>) -> FileResult {
    let mut total = merge(
        load::split(&source.text)
            .into_par_iter()
            .map(|(first_line, text)| {
                let mut doc = Document::parse(first_line, text);
                // Judged as the API server stores them: with the defaults a verdict depends on.
                if let Ok(value) = &mut doc.value {
                    load::apply_api_defaults(value);
                }
                check_document(set, &source.name, &doc, ctx)
            })
            .collect(),
    );
    total.findings.sort_by(finding_order);
    total
}

/// The documents' results of one file as one.
fn merge(mut per_doc: Vec<FileResult>) -> FileResult {
    // Most files hold one document: its result is the file's, without copying its findings.
    if per_doc.len() == 1
        && let Some(only) = per_doc.pop()
    {
        return only;
    }
    let mut total = FileResult::default();
    total
        .findings
        .reserve_exact(per_doc.iter().map(|r| r.findings.len()).sum());
    for r in per_doc {
        total.findings.extend(r.findings);
        total.skipped.extend(r.skipped);
        total.input_errors.extend(r.input_errors);
        total.resources += r.resources;
    }
    total
}

/// What one file or document contributed to the report.
#[derive(Debug, Default)]
pub struct FileResult {
    pub findings: Vec<Finding>,
    pub skipped: Vec<SkippedDocument>,
    pub input_errors: Vec<InputError>,
    pub resources: usize,
}

fn check_document(
    set: &PolicySet,
    file: &Arc<str>,
    doc: &Document<'_>,
    ctx: &EvalContext<'_>,
) -> FileResult {
    let mut result = FileResult::default();
    let value = match &doc.value {
        Ok(v) => v,
        Err(e) => {
            result.input_errors.push(InputError::document(file, doc, e));
            return result;
        }
    };
    // `kind: List` (what `kubectl get -o yaml` prints) is expanded into its items.
    // Built on the first finding only (most documents of a clean repo have none), then shared
    // by the items of a List.
    let lines = OnceCell::new();
    let target = Target {
        file,
        doc,
        lines: &lines,
    };
    if let Some(items) = load::list_items(value) {
        for (index, item) in items.iter().enumerate() {
            let prefix = format!("items[{index}]");
            evaluate_object(set, item, &target, Some(&prefix), ctx, &mut result);
        }
    } else {
        evaluate_object(set, value, &target, None, ctx, &mut result);
    }
    result
}

/// Where an object comes from: its file, its document and the document's line index.
struct Target<'t, 'a> {
    file: &'t Arc<str>,
    doc: &'t Document<'a>,
    lines: &'t OnceCell<load::LineIndex<'a>>,
}

fn evaluate_object(
    set: &PolicySet,
    object: &Value,
    target: &Target<'_, '_>,
    prefix: Option<&str>,
    ctx: &EvalContext<'_>,
    result: &mut FileResult,
) {
    let Target { file, doc, lines } = *target;
    let index = || lines.get_or_init(|| load::LineIndex::new(doc.text));
    let line = |at: Option<usize>| doc.first_line + at.unwrap_or(0);
    match set.evaluate(object, ctx) {
        Evaluation::Skipped(reason) => {
            let mut at = None;
            index().locate_each(prefix, [""], |found| at = found);
            result.skipped.push(SkippedDocument {
                file: file.clone(),
                line: line(at),
                reason,
            });
        }
        Evaluation::Evaluated { mut findings, .. } => {
            result.resources += 1;
            if findings.is_empty() {
                return;
            }
            // All of the object's findings located in one walk (see `LineIndex::locate_each`).
            let mut located = Vec::with_capacity(findings.len());
            index().locate_each(prefix, findings.iter().map(|f| f.path.as_str()), |at| {
                located.push(line(at));
            });
            for (finding, line) in findings.iter_mut().zip(located) {
                finding.location = Some(SourceLocation {
                    file: file.clone(),
                    line,
                });
            }
            // The first object's findings become the document's as they are (no copy).
            if result.findings.is_empty() {
                result.findings = findings;
            } else {
                result.findings.append(&mut findings);
            }
        }
    }
}

/// Deterministic order, whatever the thread scheduling: by file, line, resource, policy, rule.
/// Each file's findings come sorted from its worker (see [`check_source`]), so this stable sort
/// mostly meets runs already in order, and the sorting is spread over the threads.
fn sort(report: &mut CheckReport) {
    report.findings.sort_by(finding_order);
    report
        .skipped_documents
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    report
        .input_errors
        .sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
}

fn finding_order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    fn loc(f: &Finding) -> Option<(&str, usize)> {
        f.location.as_ref().map(|l| (&*l.file, l.line))
    }
    (loc(a), &a.resource, a.policy(), a.rule_id(), &a.path).cmp(&(
        loc(b),
        &b.resource,
        b.policy(),
        b.rule_id(),
        &b.path,
    ))
}
