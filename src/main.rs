//! The `scimctl` binary: parse the command line, run it, and turn the result
//! into an exit code. The only place the process exits.

use std::io::Write;
use std::process::ExitCode;

use scimctl::cli::{self, Exit};

/// mimalloc rather than glibc's allocator: the server hands each SCIM
/// exchange from the worker that served it to the journal's writer, which
/// frees it on another thread in batches; glibc serves that pattern with
/// arena locks and heap consolidation. Capturing exchanges (the journal's
/// appends left out) cost SQLite reads 6 to 14 % of their throughput in
/// `benches/scim_load.rs --journal both` on glibc, under 4 % on mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::complete::answer_if_asked();
    let cli = match cli::help::parse() {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help and version itself (exit 0) and usage errors
            // with their own "error:" line (exit 2).
            let _ = err.print();
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(Exit::Usage as u8));
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            report(&anyhow::Error::new(err).context("cannot start the async runtime"));
            return Exit::Failure.into();
        }
    };
    let result = runtime.block_on(cli::run(cli));
    // Do not wait for blocking tasks nobody awaits any more (a keyring call
    // that timed out): the command's work is done.
    runtime.shutdown_background();
    match result {
        Ok(exit) => exit.into(),
        Err(err) if cli::exit::is_broken_pipe(&err) => Exit::Success.into(),
        Err(err) => {
            report(&err);
            cli::exit::classify(&err).into()
        }
    }
}

/// `error: <message>`, each cause on its own line, then the hint if any.
fn report(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {err}");
    let mut previous = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        // Some libraries repeat their source in their own message; say it once.
        if !previous.contains(&cause) {
            let _ = writeln!(stderr, "  caused by: {cause}");
        }
        previous = cause;
    }
    if let Some(hint) = cli::exit::hint(err) {
        let _ = writeln!(stderr, "hint: {hint}");
    }
}
