//! Where data goes: stdout, or for a table on a terminal the pager
//! (`$PAGER`, by default `less -FRX`, which prints short output as it is and
//! exits), as git and gh do. Never when stdout is not a terminal, nor with
//! `--no-pager`, nor when `PAGER` is empty or `cat`.

use std::io::{self, BufWriter, Write};
use std::process::{Child, ChildStdin, Command, Stdio};

/// The pager when `PAGER` is unset: quits at once if the output fits
/// (-F), passes colours (-R), leaves the output on the screen (-X).
const DEFAULT_PAGER: &str = "less -FRX";

/// stdout, or the stdin of a running pager. Call [`finish`](Self::finish)
/// at the end; dropping it also waits for the pager, so the shell prompt
/// never comes back under a pager still running.
pub enum Stdout {
    Direct(io::Stdout),
    Paged {
        child: Child,
        stdin: Option<BufWriter<ChildStdin>>,
    },
}

impl Stdout {
    /// The pager if `paged` and one is configured and starts; stdout
    /// otherwise.
    pub fn open(paged: bool) -> Self {
        if paged
            && let Some(command) = pager_command()
            && let Some(stdout) = Self::spawn(&command)
        {
            return stdout;
        }
        Stdout::Direct(io::stdout())
    }

    fn spawn(command: &str) -> Option<Self> {
        let mut pager = Command::new("sh");
        pager.arg("-c").arg(command).stdin(Stdio::piped());
        // As git does: `PAGER=less` gets the same behaviour as the default.
        if std::env::var_os("LESS").is_none() {
            pager.env("LESS", "FRX");
        }
        let mut child = pager.spawn().ok()?;
        let stdin = child.stdin.take().map(BufWriter::new);
        Some(Stdout::Paged { child, stdin })
    }

    /// Flushes the data and, with a pager, closes its input and waits for
    /// the reader to quit it.
    pub fn finish(mut self) -> io::Result<()> {
        self.close()
    }

    fn close(&mut self) -> io::Result<()> {
        match self {
            Stdout::Direct(stdout) => stdout.flush(),
            Stdout::Paged { child, stdin } => {
                let flushed = match stdin.take() {
                    // Dropping the writer closes the pipe: the pager sees
                    // the end of its input.
                    Some(mut writer) => writer.flush(),
                    None => Ok(()),
                };
                child.wait()?;
                flushed
            }
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stdout::Direct(stdout) => stdout.write(buf),
            Stdout::Paged { stdin, .. } => match stdin {
                Some(writer) => writer.write(buf),
                None => Err(io::ErrorKind::BrokenPipe.into()),
            },
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stdout::Direct(stdout) => stdout.flush(),
            Stdout::Paged { stdin, .. } => match stdin {
                Some(writer) => writer.flush(),
                None => Ok(()),
            },
        }
    }
}

impl Drop for Stdout {
    fn drop(&mut self) {
        // An error half-way (or a pager quit early) still waits for it.
        let _ = self.close();
    }
}

/// The pager to run: `PAGER`, unless empty or `cat` (no pager); the
/// default when unset, if `less` is installed.
fn pager_command() -> Option<String> {
    match std::env::var("PAGER") {
        Ok(command) => {
            let command = command.trim();
            (!command.is_empty() && command != "cat").then(|| command.to_owned())
        }
        Err(_) => on_path("less").then(|| DEFAULT_PAGER.to_owned()),
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
