//! The edit flow in the running console: the access review, the fresh read, the editor with
//! the terminal handed over (input paused, alternate screen left, raw mode off), the confirm
//! dialog, the write, and following the policy to the operator's verdict in the background.
//! Everything the user must see comes back as actions.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use guardian_cluster::write::follow::follow;
use guardian_cluster::write::{self, Fetched, ObjectKey, WriteKind};
use serde_json::Value;
use tokio::sync::mpsc;

use super::CommandEditor;
use super::preview::ImpactJob;
use super::session::{Applied, Edited, Server, Session, chain};
use super::ui::{Modal, Pending};
use crate::action::Action;
use crate::app::Request;
use crate::clients::Clients;
use crate::terminal::{Input, Tui, suspended};

/// How long a read, review or write may take before the console says so.
const TIMEOUT: Duration = Duration::from_secs(20);
/// How long the operator gets to reconcile an applied policy before "no operator" is said.
const FOLLOW: Duration = Duration::from_secs(60);

/// The clusters edits go to, and where their temp files are kept.
#[derive(Debug, Clone)]
pub struct Editing {
    clients: Clients,
    /// `$XDG_STATE_HOME/kube-guardian/edits`.
    dir: PathBuf,
    /// Contexts whose writes need their name typed.
    protected: BTreeSet<String>,
    results: mpsc::Sender<Action>,
}

/// The cluster through kube-rs.
#[derive(Clone)]
pub struct KubeServer {
    pub client: kube::Client,
}

impl std::fmt::Debug for KubeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeServer").finish_non_exhaustive()
    }
}

impl Server for KubeServer {
    async fn fetch(&self, key: &ObjectKey) -> Result<Fetched, guardian_cluster::Error> {
        write::fetch(&self.client, key).await
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        edited: &Value,
        resource_version: &str,
    ) -> Result<Option<i64>, guardian_cluster::Error> {
        let written = write::replace(&self.client, key, edited, resource_version).await?;
        Ok(written.metadata.generation)
    }
}

impl Editing {
    pub fn new(
        clients: Clients,
        dir: PathBuf,
        protected: BTreeSet<String>,
        results: mpsc::Sender<Action>,
    ) -> Editing {
        Editing {
            clients,
            dir,
            protected,
            results,
        }
    }

    /// The shared client of the cluster at `cluster`, with its context.
    async fn client(&self, cluster: usize) -> Result<(String, kube::Client), String> {
        let client = self.clients.get(cluster).await.map_err(|e| chain(&e))?;
        let context = self.clients.context(cluster).unwrap_or_default().to_owned();
        Ok((context, client))
    }

    /// `e`: checks access and reads the object fresh in the background (a slow cluster never
    /// holds up the console); the editor opens when [`Action::OpenEditor`] comes back.
    pub fn start(&self, cluster: usize, key: ObjectKey) {
        let editing = self.clone();
        tokio::spawn(async move {
            let prepared = tokio::time::timeout(TIMEOUT, async {
                let (context, client) = editing.client(cluster).await?;
                super::access::check(&client, "update", &key).await?;
                let server = KubeServer { client };
                Session::open(&server, &editing.dir, &context, &key).await
            })
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {}s", TIMEOUT.as_secs())));
            let action = match prepared {
                Ok(session) => Action::OpenEditor(Box::new((cluster, session))),
                Err(why) => Action::NotEditable(Box::new(Modal::message(
                    format!("Cannot edit {key}"),
                    vec![why],
                ))),
            };
            let _ = editing.results.send(action).await;
        });
    }

    /// Opens the editor on the session's file (the terminal handed over meanwhile) and turns the
    /// outcome into actions.
    pub fn edit(
        &self,
        tui: &mut Tui,
        input: &mut Input,
        cluster: usize,
        mut session: Session,
    ) -> Vec<Action> {
        let kept = |why: String, session: &Session| {
            message(
                format!("Edit of {} not applied", session.key),
                vec![
                    why,
                    format!("Your edit is kept in {}", session.path.display()),
                ],
            )
        };
        let mut editor = match CommandEditor::from_env() {
            Ok(editor) => editor,
            Err(e) => return vec![kept(chain(&e), &session)],
        };
        let edited = match suspended(tui, input, || session.edit(&mut editor)) {
            Ok(Ok(edited)) => edited,
            Ok(Err(e)) | Err(e) => return vec![kept(chain(&e), &session)],
        };
        match edited {
            Edited::Unchanged => vec![Action::Toast(format!("{}: no changes", session.key))],
            Edited::Cancelled { errors } => {
                let mut lines =
                    vec!["Edit cancelled (closed without a change); it did not load:".to_owned()];
                lines.extend(errors.into_iter().map(|e| format!("  {e}")));
                lines.push(format!("Your edit is kept in {}", session.path.display()));
                vec![message(format!("Edit of {} cancelled", session.key), lines)]
            }
            Edited::Changed { edited, diff } => {
                let context = session.context.clone();
                let mut lines = vec![format!("Apply to {} in {context}?", session.key)];
                lines.extend(gitops_warning(&session.base));
                lines.extend(diff);
                let modal = Modal::Confirm {
                    title: format!("Apply the edit of {}", session.key),
                    lines,
                    protected: self.protected.contains(&context).then_some(context),
                    typed: String::new(),
                    kept: Some(session.path.clone()),
                    on_yes: Request::Apply(Arc::new(Pending {
                        cluster,
                        session,
                        edited,
                    })),
                };
                vec![Action::Modal(Box::new(modal))]
            }
        }
    }

    /// A policy edit's impact, on a blocking thread (it evaluates every cached object); the
    /// dialog comes back as [`Action::Impact`], without the impact if that thread failed.
    pub fn impact(&self, job: Box<ImpactJob>) {
        let results = self.results.clone();
        tokio::spawn(async move {
            let fallback = job.clone();
            let modal = match tokio::task::spawn_blocking(move || job.run()).await {
                Ok(modal) => modal,
                Err(e) => fallback.with(vec![format!("Impact: not computed ({e})")]),
            };
            let _ = results.send(Action::Impact(Box::new(modal))).await;
        });
    }

    /// `y`: the dry run and the write, in the background; a conflict reopens the editor with
    /// the user's edit (through [`Action::OpenEditor`]).
    pub fn apply(&self, pending: Arc<Pending>) {
        let editing = self.clone();
        tokio::spawn(async move {
            let action = editing.write_edit(&pending).await;
            let _ = editing.results.send(action).await;
        });
    }

    async fn write_edit(&self, pending: &Pending) -> Action {
        let mut session = pending.session.clone();
        let key = session.key.clone();
        // Connecting is timed on its own: no connection means nothing was sent.
        let connected = tokio::time::timeout(TIMEOUT, self.client(pending.cluster))
            .await
            .unwrap_or_else(|_| Err(format!("no connection within {}s", TIMEOUT.as_secs())));
        let client = match connected {
            Ok((_, client)) => client,
            Err(why) => return Self::not_applied(&key, why, &session),
        };
        let applied = tokio::time::timeout(TIMEOUT, async {
            let server = KubeServer { client };
            let applied = session
                .apply(&server, &pending.edited)
                .await
                .map_err(|e| chain(&e))?;
            Ok::<_, String>((server, applied))
        })
        .await;
        // The write may have been sent: "not applied" would be a guess.
        let Ok(applied) = applied else {
            return message(
                format!("Edit of {key}: outcome unknown"),
                vec![
                    format!(
                        "No answer within {}s: the write may or may not have happened.",
                        TIMEOUT.as_secs()
                    ),
                    format!("Re-read {key} (e) to see which before editing again."),
                    format!("Your edit is kept in {}", session.path.display()),
                ],
            );
        };
        match applied {
            Ok((server, Applied::Done { generation })) => {
                if key.kind == WriteKind::Policy
                    && let Some(generation) = generation
                {
                    self.follow(
                        server.client,
                        session.context.clone(),
                        key.name.clone(),
                        generation,
                    );
                }
                Action::Toast(format!("{key} applied in {}", session.context))
            }
            Ok((_, Applied::Conflict { .. })) => {
                Action::OpenEditor(Box::new((pending.cluster, session)))
            }
            Ok((_, Applied::Failed { message: why })) | Err(why) => {
                Self::not_applied(&key, why, &session)
            }
        }
    }

    fn not_applied(key: &ObjectKey, why: String, session: &Session) -> Action {
        message(
            format!("Edit of {key} not applied"),
            vec![
                why,
                format!("Your edit is kept in {}", session.path.display()),
            ],
        )
    }

    /// Reports the operator's verdict on `name` once it reconciled `generation`.
    fn follow(&self, client: kube::Client, context: String, name: String, generation: i64) {
        let results = self.results.clone();
        tokio::spawn(async move {
            let text = match follow(&client, &name, generation, FOLLOW).await {
                Ok(verdict) => verdict.describe(&name, &context),
                Err(e) => format!("following {name} in {context}: {}", chain(&e)),
            };
            let _ = results.send(Action::Toast(text)).await;
        });
    }
}

impl Editing {
    /// A quick action's write, in the background; its outcome comes back as a toast, or a
    /// dialog when it failed.
    pub fn quick(&self, request: Request) {
        let editing = self.clone();
        tokio::spawn(async move {
            let answer = tokio::time::timeout(TIMEOUT, editing.write(request))
                .await
                .unwrap_or_else(|_| {
                    // The write may have been sent: the list shows whether it happened.
                    Err(message(
                        "Outcome unknown".to_owned(),
                        vec![
                            format!(
                                "No answer within {}s: the write may or may not have happened.",
                                TIMEOUT.as_secs()
                            ),
                            "Check the Policies screen before trying again.".to_owned(),
                        ],
                    ))
                });
            let action = answer.unwrap_or_else(|failed| failed);
            let _ = editing.results.send(action).await;
        });
    }

    async fn write(&self, request: Request) -> Result<Action, Action> {
        use guardian_cluster::write::quick;
        let (cluster, what) = match &request {
            Request::SetEnforcement {
                cluster,
                policy,
                to,
            } => (*cluster, format!("switching {policy} to {to:?}")),
            Request::CreateException { cluster, exception } => {
                (*cluster, format!("creating {}", exception.key()))
            }
            Request::ExtendException { cluster, key, .. } => (*cluster, format!("extending {key}")),
            Request::RevokeException { cluster, key } => (*cluster, format!("revoking {key}")),
            _ => return Err(Action::Toast("not a quick action".to_owned())),
        };
        let failed = |why: String| message(format!("Failed: {what}"), vec![why]);
        let (context, client) = self.client(cluster).await.map_err(failed)?;
        // Every write is reviewed first, explained like the edit's (`e`).
        if let Some((verb, key)) = super::access::required(&request) {
            super::access::check(&client, verb, &key)
                .await
                .map_err(failed)?;
        }
        let failed =
            |e: guardian_cluster::Error| message(format!("Failed: {what}"), vec![chain(&e)]);
        let done = match request {
            Request::SetEnforcement { policy, to, .. } => {
                let generation = quick::set_enforcement(&client, &policy, to)
                    .await
                    .map_err(failed)?;
                if let Some(generation) = generation {
                    self.follow(client, context.clone(), policy.clone(), generation);
                }
                format!("{policy} switched to {to:?} in {context}")
            }
            Request::CreateException { exception, .. } => {
                quick::create_exception(&client, &exception)
                    .await
                    .map_err(failed)?;
                format!("{} created in {context}", exception.key())
            }
            Request::ExtendException {
                key, expires_at, ..
            } => {
                quick::extend_exception(&client, &key, expires_at)
                    .await
                    .map_err(failed)?;
                format!("{key} now expires {expires_at}")
            }
            Request::RevokeException { key, .. } => {
                quick::revoke_exception(&client, &key)
                    .await
                    .map_err(failed)?;
                format!("{key} revoked in {context}")
            }
            _ => return Err(Action::Toast("not a quick action".to_owned())),
        };
        Ok(Action::Toast(done))
    }
}

/// The GitOps warning of the object as read from the server (its labels and annotations).
fn gitops_warning(base: &Fetched) -> Option<String> {
    let meta = serde_json::from_value(base.editable.get("metadata")?.clone()).ok()?;
    guardian_cluster::write::gitops::warning(&meta)
}

fn message(title: String, lines: Vec<String>) -> Action {
    Action::Modal(Box::new(Modal::message(title, lines)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(metadata: Value) -> Fetched {
        Fetched {
            key: ObjectKey::policy("p"),
            editable: json!({"metadata": metadata, "spec": {"enforcement": "Audit"}}),
            resource_version: "1".to_owned(),
            status: None,
            generation: Some(1),
        }
    }

    #[test]
    fn the_edit_dialog_warns_when_argo_cd_tracks_the_object() {
        let tracked = read(json!({"name": "p", "annotations": {
            "argocd.argoproj.io/tracking-id": "guardian:guardian.kube-guardian.dev/GuardianPolicy:/p"
        }}));
        let warned = gitops_warning(&tracked).expect("a warning");
        assert!(
            warned.contains("Managed by Argo CD application guardian: its next sync may revert"),
            "{warned}"
        );
        assert_eq!(gitops_warning(&read(json!({"name": "p"}))), None);
    }
}
