//! One edit, from the fresh read to the write: the temp file, the editor loop (reopened with
//! the errors as comments until the edit is valid, or closed unchanged to cancel), and the
//! write (on a conflict the user's edit is kept and reopened over the server's new version).
//! The cluster is behind [`Server`] and the editor behind [`Editor`], so tests script both.

use std::future::Future;
use std::path::{Path, PathBuf};

use guardian_cluster::write::{Fetched, ObjectKey};
use serde_json::Value;

use super::editor::Editor;
use super::{diff, file, validate};
use crate::error::Error;

/// Conflicts retried at once when the server changed nothing the user edits (status only).
const STATUS_ONLY_RETRIES: u32 = 5;

/// The cluster an edit reads and writes.
pub trait Server {
    fn fetch(
        &self,
        key: &ObjectKey,
    ) -> impl Future<Output = Result<Fetched, guardian_cluster::Error>> + Send;
    /// Dry run, then the write guarded by `resource_version`; the written generation.
    fn replace(
        &self,
        key: &ObjectKey,
        edited: &Value,
        resource_version: &str,
    ) -> impl Future<Output = Result<Option<i64>, guardian_cluster::Error>> + Send;
}

/// An edit in progress.
#[derive(Debug, Clone)]
pub struct Session {
    pub context: String,
    pub key: ObjectKey,
    /// The temp file, kept until the edit is applied or nothing changed.
    pub path: PathBuf,
    /// What the server held when last read.
    pub base: Fetched,
    /// The file's text when the editor was last opened (to see "closed without a change").
    written: String,
}

/// Two sessions are the same edit when they use the same temp file.
impl PartialEq for Session {
    fn eq(&self, other: &Session) -> bool {
        self.path == other.path
    }
}

impl Eq for Session {}

/// What the editor loop ended with.
#[derive(Debug, Clone, PartialEq)]
pub enum Edited {
    /// Nothing changed; the temp file is removed.
    Unchanged,
    /// Closed without a change after errors were shown: cancelled, the temp file kept.
    Cancelled { errors: Vec<String> },
    /// A valid change, to confirm: the object to write and its diff.
    Changed { edited: Value, diff: Vec<String> },
}

/// What the write ended with.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// Written; the temp file is removed.
    Done { generation: Option<i64> },
    /// The object changed on the server: the file now holds the user's edit under a note of
    /// what changed; reopen the editor ([`Session::edit`]).
    Conflict { server_changes: Vec<String> },
    /// Refused or failed: the message; the temp file is kept (with the message on top).
    Failed { message: String },
}

impl Session {
    /// Reads `key` fresh from `server` and writes it to a new temp file in `dir`.
    pub async fn open(
        server: &impl Server,
        dir: &Path,
        context: &str,
        key: &ObjectKey,
    ) -> Result<Session, String> {
        let base = server.fetch(key).await.map_err(|e| chain(&e))?;
        let text = format!("{}{}", header(context, &base), diff::yaml(&base.editable));
        let path = file::create(dir, context, key, &text).map_err(|e| chain(&e))?;
        Ok(Session {
            context: context.to_owned(),
            key: key.clone(),
            path,
            base,
            written: text,
        })
    }

    /// Opens the editor until the edit is valid, unchanged, or cancelled.
    pub fn edit(&mut self, editor: &mut impl Editor) -> Result<Edited, Error> {
        let mut errors_shown: Vec<String> = Vec::new();
        loop {
            editor.edit(&self.path)?;
            let text = file::read(&self.path)?;
            if !errors_shown.is_empty() && text == self.written {
                return Ok(Edited::Cancelled {
                    errors: errors_shown,
                });
            }
            match validate::validate(&text, &self.key, &self.base.editable) {
                Ok(edited) if edited == self.base.editable => {
                    file::remove(&self.path)?;
                    return Ok(Edited::Unchanged);
                }
                Ok(edited) => {
                    let diff = diff::lines(&self.base.editable, &edited);
                    return Ok(Edited::Changed { edited, diff });
                }
                Err(errors) => {
                    let mut top = vec![format!(
                        "The edit of {} cannot be applied; fix it, or close without a change to cancel:",
                        self.key
                    )];
                    top.extend(errors.iter().map(|e| format!("  {e}")));
                    self.rewrite(&top, &text)?;
                    errors_shown = errors;
                }
            }
        }
    }

    /// Writes `edited` (from [`Edited::Changed`]) guarded by the resourceVersion it was read at.
    /// A conflict whose server side changed only what the user does not edit (the operator
    /// writing status, managedFields) is retried on the new version, at most
    /// [`STATUS_ONLY_RETRIES`] times: the edit was made on the very same content.
    pub async fn apply(&mut self, server: &impl Server, edited: &Value) -> Result<Applied, Error> {
        let mut retries = 0;
        loop {
            let written = server
                .replace(&self.key, edited, &self.base.resource_version)
                .await;
            // Written: done, whatever happens to the temp file (an error now would read as
            // "not applied"). The file is read only when the edit must be kept.
            let error = match written {
                Ok(generation) => {
                    if let Err(e) = file::remove(&self.path) {
                        tracing::warn!(error = %chain(&e), "the applied edit's temp file stays");
                    }
                    return Ok(Applied::Done { generation });
                }
                Err(error) => error,
            };
            let text = file::read(&self.path)?;
            match error {
                guardian_cluster::Error::Conflict { .. } => {
                    let fresh = match server.fetch(&self.key).await {
                        Ok(fresh) => fresh,
                        Err(e) => return self.failed(chain(&e), &text),
                    };
                    if fresh.editable == self.base.editable && retries < STATUS_ONLY_RETRIES {
                        retries += 1;
                        self.base = fresh;
                        continue;
                    }
                    return self.conflict(fresh, &text);
                }
                e => return self.failed(chain(&e), &text),
            }
        }
    }

    /// The user's edit reopened over `fresh`, with what changed on the server on top.
    fn conflict(&mut self, fresh: Fetched, text: &str) -> Result<Applied, Error> {
        let server_changes = diff::lines(&self.base.editable, &fresh.editable);
        let mut note = vec![format!(
            "{} changed on the server since you opened it (conflict); your edit is below, \
             save and close to apply it over the server's version. The server's changes:",
            self.key
        )];
        note.extend(server_changes.iter().map(|l| format!("  {l}")));
        self.base = fresh;
        self.rewrite(&note, text)?;
        Ok(Applied::Conflict { server_changes })
    }

    fn failed(&mut self, message: String, text: &str) -> Result<Applied, Error> {
        let top = [
            format!("Not applied: {message}"),
            "e on Policies starts again from the server's version: copy your edit from here."
                .to_owned(),
        ];
        self.rewrite(&top, text)?;
        Ok(Applied::Failed { message })
    }

    /// The file becomes the header, `top` and the user's text (without its old comment block).
    fn rewrite(&mut self, top: &[String], text: &str) -> Result<(), Error> {
        let new = format!(
            "{}{}{}",
            header(&self.context, &self.base),
            file::comments(top),
            file::body(text)
        );
        file::write(&self.path, &new)?;
        self.written = new;
        Ok(())
    }
}

fn header(context: &str, base: &Fetched) -> String {
    let mut lines = vec![
        format!("Editing {} in cluster {context}.", base.key),
        "Save and close to apply it (a diff and a confirmation come first); close without a change to cancel.".to_owned(),
        "Lines starting with '#' are ignored.".to_owned(),
    ];
    if let Some(status) = &base.status {
        lines.push("status (read-only):".to_owned());
        lines.extend(diff::yaml(status).lines().map(|l| format!("  {l}")));
    }
    file::comments(lines)
}

/// An error with its causes: `a: b: c`.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

#[cfg(test)]
impl Session {
    /// A session over a file that need not exist, for the dialog's tests.
    pub fn open_for_tests(context: &str, path: PathBuf, base: Fetched) -> Session {
        Session {
            context: context.to_owned(),
            key: base.key.clone(),
            path,
            base,
            written: String::new(),
        }
    }
}
