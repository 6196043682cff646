//! Reading what a `scimctl` run printed, and running it as root with an
//! expected exit code: what every CLI test needs.

use std::process::Output;

use serde_json::Value;

use crate::support::TestServer;

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| {
        panic!(
            "stdout is not JSON ({err}): {}\nstderr: {}",
            stdout(output),
            stderr(output)
        )
    })
}

/// Asserts the run exited with `code`, showing what it printed if not.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout: {}\nstderr: {}",
        stdout(output),
        stderr(output)
    );
}

/// Runs the CLI as root with `args`; returns the output after checking the
/// exit code is `code`.
#[track_caller]
pub fn root(server: &TestServer, args: &[&str], code: i32) -> Output {
    run(server.cli_as_root(), args, code)
}

/// [`root`] with the key `token`.
#[track_caller]
pub fn as_key(server: &TestServer, token: &str, args: &[&str], code: i32) -> Output {
    run(server.cli_with_token(token), args, code)
}

#[track_caller]
fn run(mut cli: assert_cmd::Command, args: &[&str], code: i32) -> Output {
    let output = cli.args(args).output().expect("run scimctl");
    assert_eq!(
        output.status.code(),
        Some(code),
        "scimctl {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        stdout(&output),
        stderr(&output)
    );
    output
}
