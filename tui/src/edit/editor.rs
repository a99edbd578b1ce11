//! The user's editor: `$KUBE_EDITOR`, `$VISUAL`, `$EDITOR`, else `vi`, split like a shell (so
//! `code -w` and quoted paths work), run in the foreground on the temp file. Behind a trait so
//! the edit flow's tests script the user's edits.

use std::path::Path;
use std::process::Command;

use crate::error::Error;

/// Whoever edits the temp file: the user's editor, or a test's script.
pub trait Editor {
    /// Edits `path` in place and returns when done (the editor exited).
    fn edit(&mut self, path: &Path) -> Result<(), Error>;
}

/// The variables that name the editor, strongest first (kubectl's order).
pub const VARIABLES: [&str; 3] = ["KUBE_EDITOR", "VISUAL", "EDITOR"];

/// The editor's command line from the environment (`lookup`: `std::env::var`, injected in
/// tests): the first variable set and not blank, split like a shell; `vi` when none is.
pub fn resolve(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, Error> {
    for variable in VARIABLES {
        let Some(value) = lookup(variable).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        return shell_words::split(&value).map_err(|source| Error::EditorCommand {
            variable,
            value: value.clone(),
            source,
        });
    }
    Ok(vec!["vi".to_owned()])
}

/// The editor the environment names, run as a child process sharing the terminal.
#[derive(Debug, Clone)]
pub struct CommandEditor {
    pub command: Vec<String>,
}

impl CommandEditor {
    pub fn from_env() -> Result<CommandEditor, Error> {
        Ok(CommandEditor {
            command: resolve(|v| std::env::var(v).ok())?,
        })
    }
}

impl Editor for CommandEditor {
    fn edit(&mut self, path: &Path) -> Result<(), Error> {
        let shown = self.command.join(" ");
        let (program, args) = self.command.split_first().ok_or(Error::EditorFailed {
            command: shown.clone(),
            why: "the editor command is empty".to_owned(),
        })?;
        let status = Command::new(program)
            .args(args)
            .arg(path)
            .status()
            .map_err(|source| Error::EditorStart {
                command: shown.clone(),
                source,
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(Error::EditorFailed {
                command: shown,
                why: format!("it exited with {status}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn kube_editor_wins_then_visual_then_editor_then_vi() {
        let all = [
            ("EDITOR", "nano"),
            ("VISUAL", "vim"),
            ("KUBE_EDITOR", "code -w"),
        ];
        assert_eq!(resolve(env(&all)).expect("splits"), ["code", "-w"]);
        assert_eq!(resolve(env(&all[..2])).expect("splits"), ["vim"]);
        assert_eq!(resolve(env(&all[..1])).expect("splits"), ["nano"]);
        assert_eq!(resolve(env(&[("EDITOR", "  ")])).expect("splits"), ["vi"]);
        assert_eq!(resolve(env(&[])).expect("splits"), ["vi"]);
    }

    #[test]
    fn the_command_is_split_like_a_shell() {
        let quoted = [("EDITOR", r#""/opt/My Editor/bin/ed" --wait 'a b'"#)];
        assert_eq!(
            resolve(env(&quoted)).expect("splits"),
            ["/opt/My Editor/bin/ed", "--wait", "a b"]
        );
        let broken = resolve(env(&[("VISUAL", "vim 'unclosed")])).expect_err("unbalanced");
        assert!(broken.to_string().contains("$VISUAL"), "{broken}");
    }

    #[test]
    fn a_failing_or_missing_editor_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("f.yaml");
        std::fs::write(&file, "x").expect("write");
        let mut missing = CommandEditor {
            command: vec!["/no/such/editor".to_owned()],
        };
        let error = missing.edit(&file).expect_err("cannot start");
        assert!(error.to_string().contains("/no/such/editor"), "{error}");
        let mut failing = CommandEditor {
            command: vec!["false".to_owned()],
        };
        let error = failing.edit(&file).expect_err("exits non-zero");
        assert!(error.to_string().contains("exited"), "{error}");
    }
}
