//! The demo's command line, and the console it opens from it.

use std::path::{Path, PathBuf};

use guardian_testenv::demo::{self, Console};

use crate::CLUSTERS;

pub const USAGE: &str = "\
Usage: demo [--operator-bin PATH] [--dir DIR] [--no-console]

Starts two local control planes (contexts demo-a and demo-b), seeds them from examples/, runs the
operators and opens the console; quitting it stops everything. Binaries must exist: run
tests/control-plane/build.sh --with-controller-manager.

  --operator-bin PATH  kube-guardian binary; runs `PATH operator` replicas per cluster and the
                       console `PATH tui` if it has those commands
  --dir DIR            where the kubeconfig and logs go (default: <repo>/target/demo); removed on exit
  --no-console         no console: run until Ctrl-C (or SIGTERM), for headless use and tests
  -h, --help           this text";

#[derive(Debug)]
pub struct Args {
    pub operator_bin: Option<PathBuf>,
    pub dir: PathBuf,
    pub no_console: bool,
}

/// `Ok(None)` asks for the help text. Hand-rolled: two flags do not justify a parser dependency.
pub fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut parsed = Args {
        operator_bin: None,
        dir: demo::repo_root().join("target/demo"),
        no_console: false,
    };
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--operator-bin" => parsed.operator_bin = Some(PathBuf::from(value()?)),
            "--dir" => parsed.dir = PathBuf::from(value()?),
            "--no-console" if inline.is_none() => parsed.no_console = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(parsed))
}

/// The console's command line, unless `--no-console` or the binary has no `tui` command yet.
pub fn console(args: &Args, kubeconfig: &Path, dir: &Path) -> Option<Console> {
    let binary = args.operator_bin.as_ref()?;
    if args.no_console {
        return None;
    }
    if !demo::supports_console(binary) {
        println!(
            "demo: {} has no `tui` subcommand yet: not opening the console",
            binary.display()
        );
        return None;
    }
    Some(Console {
        binary: binary.clone(),
        kubeconfig: kubeconfig.to_owned(),
        contexts: CLUSTERS.iter().map(|(c, ..)| (*c).to_owned()).collect(),
        log_file: dir.join("console.log"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn flags_parse_with_a_space_or_an_equals_sign() -> Result<(), String> {
        let args = parse(&["--operator-bin", "/bin/kg", "--dir=/tmp/d"])?;
        let args = args.ok_or("help instead of args")?;
        assert_eq!(args.operator_bin, Some(PathBuf::from("/bin/kg")));
        assert_eq!(args.dir, PathBuf::from("/tmp/d"));
        Ok(())
    }

    #[test]
    fn help_unknown_and_missing_values() {
        assert!(matches!(parse(&["--help"]), Ok(None)));
        assert!(parse(&["--nope"]).is_err_and(|e| e.contains("--nope")));
        assert!(parse(&["--dir"]).is_err_and(|e| e.contains("needs a value")));
        assert!(parse(&[]).is_ok_and(|a| a.is_some_and(|a| a.dir.ends_with("target/demo"))));
    }

    #[test]
    fn the_console_opens_unless_no_console_is_given() -> Result<(), String> {
        let args = |a: &[&str]| parse(a)?.ok_or_else(|| "help instead of args".to_owned());
        assert!(!args(&[])?.no_console);
        assert!(args(&["--no-console"])?.no_console);
        assert!(parse(&["--no-console=yes"]).is_err());
        // Without a binary there is no console to open, whatever the flag says.
        assert!(console(&args(&[])?, Path::new("/k"), Path::new("/d")).is_none());
        let opened = console(
            &args(&["--operator-bin", "/bin/true"])?,
            Path::new("/k"),
            Path::new("/d"),
        );
        let opened = opened.ok_or("a console for a binary with a tui command")?;
        assert_eq!(opened.contexts, ["demo-a", "demo-b"]);
        assert_eq!(opened.log_file, Path::new("/d/console.log"));
        assert!(
            console(
                &args(&["--operator-bin", "/bin/true", "--no-console"])?,
                Path::new("/k"),
                Path::new("/d")
            )
            .is_none()
        );
        Ok(())
    }
}
