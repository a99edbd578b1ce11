//! The edit flow with a scripted editor and a scripted server: every outcome, and the temp
//! file survives every failure.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::Mutex;

use guardian_cluster::write::{Fetched, ObjectKey};
use kube::core::Status;
use serde_json::{Value, json};

use super::*;

/// One scripted edit: the file's text in, the new text out.
type Step = Box<dyn FnMut(&str) -> String>;

/// Each call edits the file with the next step (the file's text in, the new text out).
struct Script {
    steps: VecDeque<Step>,
    seen: Vec<String>,
}

impl Script {
    fn new(steps: Vec<Step>) -> Script {
        Script {
            steps: steps.into(),
            seen: Vec::new(),
        }
    }
}

impl Editor for Script {
    fn edit(&mut self, path: &Path) -> Result<(), Error> {
        let text = std::fs::read_to_string(path).expect("the file is there");
        self.seen.push(text.clone());
        let mut step = self
            .steps
            .pop_front()
            .expect("the editor opened more often than scripted");
        std::fs::write(path, step(&text)).expect("written");
        Ok(())
    }
}

fn keep() -> Step {
    Box::new(str::to_owned)
}

fn replace(from: &'static str, to: &'static str) -> Step {
    Box::new(move |t| t.replacen(from, to, 1))
}

/// What the next write does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Next {
    Accept,
    /// Someone else wrote first: the server's enforcement becomes Warn.
    Conflict,
    /// Someone else wrote only what is not edited (the operator's status): a new version.
    StatusOnly,
    Reject,
}

struct Fake {
    object: Mutex<(Value, u64)>,
    next: Mutex<VecDeque<Next>>,
    writes: Mutex<Vec<(Value, String)>>,
}

fn policy() -> Value {
    json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": {"name": "p", "generation": 1},
        "spec": {"enforcement": "Audit", "rules": [{"id": "pss-privileged"}]}
    })
}

impl Fake {
    fn new(next: &[Next]) -> Fake {
        Fake {
            object: Mutex::new((policy(), 1)),
            next: Mutex::new(next.iter().copied().collect()),
            writes: Mutex::new(Vec::new()),
        }
    }
}

fn api_error(code: u16, message: &str) -> Box<kube::Error> {
    Box::new(kube::Error::Api(
        Status::failure(message, "Invalid").with_code(code).boxed(),
    ))
}

impl Server for Fake {
    async fn fetch(&self, key: &ObjectKey) -> Result<Fetched, guardian_cluster::Error> {
        let (value, version) = self.object.lock().expect("lock").clone();
        Ok(Fetched {
            key: key.clone(),
            editable: value,
            resource_version: version.to_string(),
            status: Some(json!({"observedGeneration": 1})),
            generation: Some(1),
        })
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        edited: &Value,
        resource_version: &str,
    ) -> Result<Option<i64>, guardian_cluster::Error> {
        let next = self
            .next
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(Next::Accept);
        let mut object = self.object.lock().expect("lock");
        match next {
            Next::Conflict => {
                object.0["spec"]["enforcement"] = json!("Warn");
                object.1 += 1;
                Err(guardian_cluster::Error::Conflict {
                    object: key.to_string(),
                    source: api_error(409, "the object has been modified"),
                })
            }
            Next::StatusOnly => {
                object.1 += 1;
                Err(guardian_cluster::Error::Conflict {
                    object: key.to_string(),
                    source: api_error(409, "the object has been modified"),
                })
            }
            Next::Reject => Err(guardian_cluster::Error::Rejected {
                object: key.to_string(),
                dry_run: true,
                message: "denied by webhook: no Deny on Fridays".to_owned(),
                source: api_error(400, "denied"),
            }),
            Next::Accept => {
                assert_eq!(
                    resource_version,
                    object.1.to_string(),
                    "guarded by the read version"
                );
                self.writes
                    .lock()
                    .expect("lock")
                    .push((edited.clone(), resource_version.to_owned()));
                object.0 = edited.clone();
                object.1 += 1;
                Ok(Some(2))
            }
        }
    }
}

async fn open(fake: &Fake, dir: &Path) -> Session {
    Session::open(fake, dir, "demo-a", &ObjectKey::policy("p"))
        .await
        .expect("opens")
}

#[tokio::test]
async fn an_unchanged_file_does_nothing_and_is_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![keep()]);
    assert_eq!(session.edit(&mut editor).expect("edits"), Edited::Unchanged);
    assert!(!session.path.exists(), "removed");
    assert!(editor.seen[0].starts_with("# Editing GuardianPolicy p in cluster demo-a."));
    assert!(
        editor.seen[0].contains("#   observedGeneration: 1"),
        "{}",
        editor.seen[0]
    );
    assert!(fake.writes.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn invalid_yaml_reopens_with_the_error_and_closing_unchanged_cancels_keeping_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![
        replace("enforcement: Audit", "enforcement: [Deny"),
        keep(),
    ]);
    let Edited::Cancelled { errors } = session.edit(&mut editor).expect("edits") else {
        panic!("not cancelled");
    };
    assert!(errors[0].starts_with("invalid YAML"), "{errors:?}");
    let reopened = &editor.seen[1];
    assert!(
        reopened.contains("# The edit of GuardianPolicy p cannot be applied"),
        "{reopened}"
    );
    assert!(reopened.contains("#   invalid YAML"), "{reopened}");
    let kept = std::fs::read_to_string(&session.path).expect("the temp file is kept");
    assert!(
        kept.contains("enforcement: [Deny"),
        "the user's edit is kept: {kept}"
    );
    assert_eq!(
        kept.matches("# Editing").count(),
        1,
        "headers never pile up"
    );
}

#[tokio::test]
async fn an_identity_change_or_a_compile_error_reopens_until_fixed() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![
        replace("name: p", "name: q"),
        Box::new(|t: &str| {
            t.replacen("name: q", "name: p", 1)
                .replacen("pss-privileged", "no-such-rule", 1)
        }),
        // (the error comment quotes the rule too: replace every occurrence)
        Box::new(|t: &str| {
            t.replace("no-such-rule", "pss-privileged")
                .replacen("Audit", "Deny", 1)
        }),
    ]);
    let Edited::Changed { edited, diff } = session.edit(&mut editor).expect("edits") else {
        panic!("no change");
    };
    assert!(
        editor.seen[1].contains("metadata.name cannot change"),
        "{}",
        editor.seen[1]
    );
    assert!(
        editor.seen[2].contains("does not compile"),
        "{}",
        editor.seen[2]
    );
    assert!(
        editor.seen[2].contains("no-such-rule"),
        "{}",
        editor.seen[2]
    );
    assert_eq!(edited["spec"]["enforcement"], "Deny");
    assert!(
        diff.contains(&"-   enforcement: Audit".to_owned()),
        "{diff:?}"
    );
    assert!(
        diff.contains(&"+   enforcement: Deny".to_owned()),
        "{diff:?}"
    );
    assert!(session.path.exists(), "kept until applied");
}

#[tokio::test]
async fn a_valid_edit_is_written_guarded_and_the_file_removed() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[Next::Accept]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![replace("Audit", "Deny")]);
    let Edited::Changed { edited, .. } = session.edit(&mut editor).expect("edits") else {
        panic!("no change");
    };
    let applied = session.apply(&fake, &edited).await.expect("applies");
    assert_eq!(
        applied,
        Applied::Done {
            generation: Some(2)
        }
    );
    assert!(!session.path.exists(), "removed once applied");
    let writes = fake.writes.lock().expect("lock");
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].0["spec"]["enforcement"], "Deny");
    assert_eq!(writes[0].1, "1");
}

#[tokio::test]
async fn a_conflict_reopens_the_users_edit_with_the_servers_changes_then_applies() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[Next::Conflict, Next::Accept]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![
        replace("pss-privileged", "pss-host-namespaces"),
        keep(),
    ]);
    let Edited::Changed { edited, .. } = session.edit(&mut editor).expect("edits") else {
        panic!("no change");
    };
    let Applied::Conflict { server_changes } = session.apply(&fake, &edited).await.expect("tries")
    else {
        panic!("no conflict");
    };
    assert!(
        server_changes.contains(&"+   enforcement: Warn".to_owned()),
        "{server_changes:?}"
    );
    let file = std::fs::read_to_string(&session.path).expect("kept");
    assert!(file.contains("changed on the server"), "{file}");
    assert!(
        file.contains("pss-host-namespaces"),
        "the user's edit survives: {file}"
    );
    // Closed as is: the user's edit applies over the server's new version.
    let Edited::Changed { edited, .. } = session.edit(&mut editor).expect("edits") else {
        panic!("the user's edit still differs from the server");
    };
    assert_eq!(
        session.apply(&fake, &edited).await.expect("applies"),
        Applied::Done {
            generation: Some(2)
        }
    );
    let writes = fake.writes.lock().expect("lock");
    assert_eq!(writes[0].1, "2", "guarded by the re-read version");
    assert_eq!(writes[0].0["spec"]["rules"][0]["id"], "pss-host-namespaces");
}

#[tokio::test]
async fn a_conflict_on_status_only_is_retried_on_the_new_version_without_reopening() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[Next::StatusOnly, Next::StatusOnly, Next::Accept]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![replace("enforcement: Audit", "enforcement: Deny")]);
    let Edited::Changed { edited, .. } = session.edit(&mut editor).expect("edits") else {
        panic!("no change");
    };
    assert_eq!(
        session.apply(&fake, &edited).await.expect("applies"),
        Applied::Done {
            generation: Some(2)
        }
    );
    let writes = fake.writes.lock().expect("lock");
    assert_eq!(writes.len(), 1);
    assert_eq!(
        writes[0].1, "3",
        "guarded by the version re-read after both conflicts"
    );
    assert_eq!(writes[0].0["spec"]["enforcement"], "Deny");
    assert!(!session.path.exists(), "applied: the temp file is removed");
}

#[tokio::test]
async fn a_dry_run_rejection_keeps_the_file_with_the_message() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[Next::Reject]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![replace("Audit", "Deny")]);
    let Edited::Changed { edited, .. } = session.edit(&mut editor).expect("edits") else {
        panic!("no change");
    };
    let Applied::Failed { message } = session.apply(&fake, &edited).await.expect("tries") else {
        panic!("not refused");
    };
    assert!(
        message.contains("no Deny on Fridays") && message.contains("dry run"),
        "{message}"
    );
    let file = std::fs::read_to_string(&session.path).expect("the temp file is kept");
    assert!(file.contains("# Not applied: "), "{file}");
    // `e` does not resume this file: the note says what it does.
    assert!(
        file.contains("# e on Policies starts again from the server's version"),
        "{file}"
    );
    assert!(
        file.contains("enforcement: Deny"),
        "the edit is kept: {file}"
    );
    assert!(fake.writes.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_real_objects_yaml_reads_back_equal_so_saving_unchanged_is_no_change() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[]);
    // What a server returns: timestamps, uids, and strings YAML 1.1 would read as other types
    // if they were written unquoted.
    fake.object.lock().expect("lock").0 = json!({
        "apiVersion": "guardian.kube-guardian.dev/v1alpha1",
        "kind": "GuardianPolicy",
        "metadata": {
            "name": "p", "generation": 3, "uid": "0e6f3a1c-5b2d-4c1e-9f00-1234567890ab",
            "creationTimestamp": "2026-11-29T11:39:42Z",
            "labels": {"enabled": "on", "legacy": "yes", "version": "1.10", "mode": "0755",
                       "empty": "", "tilde": "~", "null": "null"},
            "annotations": {"note": "a: b", "multi": "line one\nline two\n"}
        },
        "spec": {"enforcement": "Audit", "rules": [{"id": "pss-privileged"}]}
    });
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![keep()]);
    let edited = session.edit(&mut editor).expect("edits");
    assert_eq!(edited, Edited::Unchanged, "{}", editor.seen[0]);
}

#[tokio::test]
async fn a_written_edit_is_done_even_when_its_temp_file_is_gone() {
    let dir = tempfile::tempdir().expect("dir");
    let fake = Fake::new(&[Next::Accept]);
    let mut session = open(&fake, dir.path()).await;
    let mut editor = Script::new(vec![replace("enforcement: Audit", "enforcement: Warn")]);
    let Edited::Changed { edited, .. } = session.edit(&mut editor).expect("edits") else {
        panic!("no change");
    };
    // Gone meanwhile (cleaned up by hand): the write still happened.
    std::fs::remove_file(&session.path).expect("remove");
    let applied = session.apply(&fake, &edited).await.expect("applied");
    assert_eq!(
        applied,
        Applied::Done {
            generation: Some(2)
        }
    );
    assert_eq!(fake.writes.lock().expect("lock").len(), 1);
}
