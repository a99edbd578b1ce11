//! Child programs run to completion within a deadline: one that never exits (an operator that
//! starts when the test expected it to fail fast, a tmux client stuck on a loaded machine)
//! fails the test naming it instead of hanging the run.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

const POLL: Duration = Duration::from_millis(10);

/// Runs `command` (described as `what`) to completion and collects its output, like
/// [`Command::output`], but kills it and fails after `deadline`. `stdin` is written on its own
/// thread and stdout and stderr are drained on theirs, so a full pipe blocks neither side;
/// `None` gives the child no stdin at all.
pub fn output_within(
    command: &mut Command,
    what: &str,
    stdin: Option<&[u8]>,
    deadline: Duration,
) -> Result<Output> {
    let started = Instant::now();
    let mut child = command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::Run {
            what: what.to_owned(),
            source,
        })?;
    if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
        let input = input.to_vec();
        // A child that exits without reading all of it breaks the pipe: its exit status says
        // what happened, so the write error itself is not the story.
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let timed_out = || Error::CommandTimeout {
        what: what.to_owned(),
        waited: deadline,
    };
    let status = loop {
        let waited = child.try_wait().map_err(|source| Error::Run {
            what: what.to_owned(),
            source,
        })?;
        if let Some(status) = waited {
            break status;
        }
        if started.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(timed_out());
        }
        std::thread::sleep(POLL);
    };
    // A grandchild may hold the pipes open after the child exits: bounded too.
    let remaining = || deadline.saturating_sub(started.elapsed());
    let stdout = stdout.recv_timeout(remaining()).map_err(|_| timed_out())?;
    let stderr = stderr.recv_timeout(remaining()).map_err(|_| timed_out())?;
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// Reads `pipe` to its end on a thread; everything read, once it closes.
fn drain(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (done, read) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        let _ = done.send(bytes);
    });
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_that_never_exits_is_killed_and_named() {
        let error = output_within(
            Command::new("sleep").arg("600"),
            "a sleeper",
            None,
            Duration::from_millis(300),
        )
        .expect_err("killed");
        assert!(
            error
                .to_string()
                .contains("a sleeper did not finish within 300ms"),
            "{error}"
        );
    }

    #[test]
    fn large_input_and_output_flow_through_without_blocking() {
        // Far beyond a pipe's 64 KiB both ways: `cat` blocks on a full stdout unless it is
        // drained while stdin is still being written.
        let input = vec![b'x'; 1 << 20];
        let out = output_within(
            &mut Command::new("cat"),
            "cat",
            Some(&input),
            Duration::from_secs(60),
        )
        .expect("cat finishes");
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), input.len());
    }
}
