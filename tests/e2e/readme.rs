//! README.md followed literally: every `sh` block, in order, in one shell,
//! against a fresh `scimctl server --dev`, with `scimctl` on `PATH` as
//! `cargo install` puts it.
//!
//! A command must exit 0 unless its trailing comment starts with `exit N`
//! (then N); a comment that mentions Ctrl-C marks a command that runs until
//! interrupted (`audit list --follow`), which gets SIGINT after a few
//! seconds. A block is skipped only when an HTML comment right above it says
//! `readme-test: skip` and why. What a reader copies from the dev server's
//! banner, its address and root key, replaces the README's
//! `http://127.0.0.1:8080` and `scimctl_…`.

use std::path::Path;

use crate::server_cli::{ServerProcess, export_line};
use crate::support::clean_env;

const README: &str = include_str!("../../README.md");
const SKIP_MARK: &str = "<!-- readme-test: skip";
/// The address and key as the README writes them.
const README_ADDR: &str = "http://127.0.0.1:8080";
const README_KEY: &str = "scimctl_…";

/// One command line of the README, as the reader types it.
#[derive(Debug, PartialEq)]
struct Step {
    /// 1-based line in README.md.
    line: usize,
    command: String,
    expect: Expect,
}

#[derive(Debug, PartialEq)]
enum Expect {
    Exit(i32),
    /// Runs until the reader presses Ctrl-C.
    RunsUntilInterrupted,
}

/// The commands of every `sh` block not marked as skipped, in order.
fn walkthrough(readme: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_block = false;
    let mut skip_block = false;
    let mut previous = "";
    for (index, line) in readme.lines().enumerate() {
        if !in_block {
            if line.trim() == "```sh" {
                in_block = true;
                skip_block = previous.trim_start().starts_with(SKIP_MARK);
                assert!(
                    !skip_block || previous.len() > SKIP_MARK.len() + ", -->".len(),
                    "README.md:{}: a skipped block says why: {previous}",
                    index + 1
                );
            }
            if !line.trim().is_empty() {
                previous = line;
            }
            continue;
        }
        if line.trim() == "```" {
            in_block = false;
            previous = line;
            continue;
        }
        let text = line.trim();
        if skip_block || text.is_empty() || text.starts_with('#') {
            continue;
        }
        // A line ending in `\` continues on the next: one step.
        if continues(readme, index)
            && let Some(step) = steps.last_mut()
        {
            step.command.push('\n');
            step.command.push_str(line);
            step.expect = expectation(trailing_comment(line));
            continue;
        }
        steps.push(Step {
            line: index + 1,
            command: line.to_owned(),
            expect: expectation(trailing_comment(line)),
        });
    }
    assert!(!in_block, "README.md ends inside a code block");
    steps
}

/// Whether the line before `index` ends with a continuation backslash.
fn continues(readme: &str, index: usize) -> bool {
    index > 0
        && readme
            .lines()
            .nth(index - 1)
            .is_some_and(|line| line.trim_end().ends_with('\\'))
}

/// The README's trailing comments follow two or more spaces: `cmd   # …`.
fn trailing_comment(line: &str) -> &str {
    line.find("  #")
        .map(|at| line[at..].trim_start().trim_start_matches('#').trim())
        .unwrap_or("")
}

fn expectation(comment: &str) -> Expect {
    if comment.contains("Ctrl-C") {
        return Expect::RunsUntilInterrupted;
    }
    let code = comment
        .strip_prefix("exit ")
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok());
    Expect::Exit(code.unwrap_or(0))
}

/// One bash script: each step echoed, run, and its exit code checked; the
/// first step that exits otherwise stops the script with exit 1.
fn script(steps: &[Step], addr: &str, key: &str) -> String {
    let mut script = String::from("set -u\n");
    for step in steps {
        let command = step
            .command
            .replace(README_ADDR, addr)
            .replace(README_KEY, key);
        let (run, expected) = match step.expect {
            Expect::Exit(code) => (command.clone(), code),
            // timeout(1) exits 124 when it had to send the signal, that is
            // when the command was still running.
            Expect::RunsUntilInterrupted => (format!("timeout -s INT 3 {command}"), 124),
        };
        let shown = shell_quote(&format!("README.md:{}: {}", step.line, step.command));
        script.push_str(&format!(
            "printf '\\n$ %s\\n' {shown}\n{run}\n__rc=$?\n\
             if [ \"$__rc\" -ne {expected} ]; then \
             printf 'FAILED: %s\\nexited %s, the README implies {expected}\\n' {shown} \"$__rc\" >&2; exit 1; fi\n"
        ));
    }
    script
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[test]
fn the_readme_walkthrough_runs_on_a_fresh_dev_server() {
    assert!(
        README.contains(README_ADDR) && README.contains(README_KEY),
        "the README no longer writes the dev server's address or key as this test substitutes them"
    );
    let steps = walkthrough(README);
    assert!(steps.len() >= 30, "only {} README steps found", steps.len());

    let mut server = ServerProcess::start(&["--dev", "--listen", "127.0.0.1:0"]);
    let (addr, key) = export_line(&server.stdout_until("SCIMCTL_TOKEN="));

    let home = tempfile::tempdir().expect("temp home");
    let work = tempfile::tempdir().expect("temp working directory");
    let scimctl = Path::new(assert_cmd::cargo::cargo_bin!("scimctl"));
    let path = format!(
        "{}:{}",
        scimctl.parent().expect("the binary's directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut bash = assert_cmd::Command::new("bash");
    clean_env(&mut bash, home.path());
    let output = bash
        .arg("-c")
        .arg(script(&steps, &addr, &key))
        .env("PATH", path)
        .current_dir(work.path())
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "the README walkthrough failed:\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn steps_expect_what_their_comments_say() {
    let readme = "intro\n\n```sh\nscimctl a   # exit 5: not live\n# a comment\n\
                  scimctl b --x \\\n  --y   # exit 4: refused\n\
                  scimctl audit list --follow   # Ctrl-C to stop\n```\n\n\
                  <!-- readme-test: skip, starts a server -->\n```sh\nscimctl server\n```\n";
    assert_eq!(
        walkthrough(readme),
        vec![
            Step {
                line: 4,
                command: "scimctl a   # exit 5: not live".into(),
                expect: Expect::Exit(5)
            },
            Step {
                line: 6,
                command: "scimctl b --x \\\n  --y   # exit 4: refused".into(),
                expect: Expect::Exit(4)
            },
            Step {
                line: 8,
                command: "scimctl audit list --follow   # Ctrl-C to stop".into(),
                expect: Expect::RunsUntilInterrupted
            },
        ]
    );
}
