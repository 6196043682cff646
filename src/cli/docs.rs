//! Shell completions and man pages, generated from the clap definition:
//! `scimctl completions SHELL`, and the hidden `generate-docs` that writes
//! the checked-in `completions/` and `man/` (a test keeps them in sync).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use clap_complete::{Generator, Shell};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use super::complete::BASH_JOIN_COLONS;
use super::help;
use crate::output::Output;

const BIN: &str = "scimctl";
/// The directories `generate-docs` owns, relative to `--out-dir`.
pub const COMPLETIONS_DIR: &str = "completions";
pub const MAN_DIR: &str = "man";
/// Every shell a completion script is checked in for.
pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::PowerShell,
    Shell::Elvish,
];

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: Shell,
}

#[derive(Args, Debug)]
pub struct GenerateDocsArgs {
    /// Directory to write completions/ and man/ under (the repository root)
    #[arg(long, value_name = "DIR")]
    pub out_dir: PathBuf,
}

pub fn completions(args: CompletionsArgs) -> Output {
    Output::raw(completion(args.shell))
}

/// The completion script for one shell.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut completion_command(), BIN, &mut out);
    if shell == Shell::Bash {
        out = with_colon_words(&String::from_utf8_lossy(&out)).into_bytes();
    }
    out
}

/// Values such as `users:read` hold a colon, and bash splits the words it
/// hands a completion function at colons (`COMP_WORDBREAKS`), so clap's
/// bash function sees `users`, `:` and `` and offers nothing (zsh and fish
/// scripts escape the colon and need nothing). This wrapper joins the words
/// back before calling it, and answers with what follows the word's last
/// colon, which is the part bash replaces (helpers shared with the dynamic
/// completion's bash script).
const BASH_COLON_WRAPPER: &str = r#"
_scimctl_colons() {
    local -a words
    local cword
    _scimctl_join_colons
    local cur=${words[cword]} prev=${words[cword - 1]}
    COMP_WORDS=("${words[@]}")
    COMP_CWORD=$cword
    _scimctl "$1" "$cur" "$prev"
    _scimctl_after_colon "$cur"
}
"#;

fn with_colon_words(script: &str) -> String {
    let registered = script.replace("complete -F _scimctl ", "complete -F _scimctl_colons ");
    assert_ne!(
        registered, script,
        "clap_complete's bash script no longer registers `complete -F _scimctl`"
    );
    let registration = registered
        .find("\nif [[ \"${BASH_VERSINFO[0]}\" -eq 4")
        .unwrap_or(registered.len());
    let (functions, rest) = registered.split_at(registration);
    format!("{functions}{BASH_JOIN_COLONS}{BASH_COLON_WRAPPER}{rest}")
}

/// The command line minus hidden subcommands: clap_complete completes those
/// too, and clap cannot remove a subcommand, so this copies the rest (name,
/// help, arguments, visible subcommands: all a completion script uses).
fn completion_command() -> clap::Command {
    let full = help::command();
    let mut command = clap::Command::new(BIN)
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(full.is_subcommand_required_set())
        .args(full.get_arguments().cloned())
        .subcommands(full.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    if let Some(about) = full.get_about() {
        command = command.about(about.clone());
    }
    command
}

/// Every generated file, as (path relative to the repository root, bytes),
/// sorted by path. Deterministic: no dates, nothing from the environment.
pub fn render_all() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = SHELLS
        .iter()
        .map(|shell| {
            (
                Path::new(COMPLETIONS_DIR).join(shell.file_name(BIN)),
                completion(*shell),
            )
        })
        .collect();
    let mut command = help::command().disable_help_subcommand(true);
    // Building fills in what the pages show: the `scimctl keys create` bin
    // names, propagated global options and version.
    command.build();
    man_pages(&command, "", &mut files);
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// One page for the command and one for each visible subcommand, nested
/// ones included (`scimctl-keys-create.1`); `path` is the command's
/// (`"keys create"`, `""` for the program).
fn man_pages(command: &clap::Command, path: &str, files: &mut Vec<(PathBuf, Vec<u8>)>) {
    // Every page names the release; subcommands have no version of their own.
    let man = Man::new(command.clone()).source(format!("scimctl {}", env!("CARGO_PKG_VERSION")));
    files.push((
        Path::new(MAN_DIR).join(man.get_filename()),
        man_page(&man, command, path),
    ));
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_path = if path.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{path} {}", sub.get_name())
        };
        man_pages(sub, &sub_path, files);
    }
}

/// clap_mangen's sections, except that the text it would put under
/// `EXTRA` (the help's trailing text) comes as proper sections: EXAMPLES
/// on every page that has them, and ENVIRONMENT, FILES and EXIT STATUS on
/// the program's page.
fn man_page(man: &Man, command: &clap::Command, path: &str) -> Vec<u8> {
    let mut page = Vec::new();
    let written: std::io::Result<()> = (|| {
        man.render_title(&mut page)?;
        man.render_name_section(&mut page)?;
        man.render_synopsis_section(&mut page)?;
        man.render_description_section(&mut page)?;
        if command.get_arguments().any(|arg| !arg.is_hide_set()) {
            man.render_options_section(&mut page)?;
        }
        if command.get_subcommands().any(|sub| !sub.is_hide_set()) {
            man.render_subcommands_section(&mut page)?;
        }
        let mut roff = Roff::default();
        let examples = help::examples(path);
        if !examples.is_empty() {
            roff.control("SH", ["EXAMPLES"]);
            for example in examples {
                roff.control("TP", []);
                roff.text([bold(example.line)]);
                roff.text([roman(example.does)]);
            }
        }
        if path.is_empty() {
            for (title, entries) in help::SECTIONS {
                roff.control("SH", [title.to_uppercase().as_str()]);
                for (name, meaning) in entries {
                    roff.control("TP", []);
                    roff.text([bold(*name)]);
                    roff.text([roman(*meaning)]);
                }
            }
        }
        roff.to_writer(&mut page)?;
        if command.get_version().is_some() {
            man.render_version_section(&mut page)?;
        }
        Ok(())
    })();
    written.expect("rendering into a Vec cannot fail");
    page
}

/// `generate-docs`: writes every file and removes files in the two owned
/// directories that are no longer generated (a renamed subcommand's page).
pub fn generate(args: GenerateDocsArgs) -> anyhow::Result<Output> {
    let files = render_all();
    let wanted: BTreeSet<PathBuf> = files.iter().map(|(path, _)| path.clone()).collect();
    for dir in [COMPLETIONS_DIR, MAN_DIR] {
        let dir = args.out_dir.join(dir);
        fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut output = Output::default();
    for stale in extra_files(&args.out_dir, &wanted)? {
        let path = args.out_dir.join(&stale);
        fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        output = output.note(format!("removed {}", path.display()));
    }
    for (path, bytes) in &files {
        let path = args.out_dir.join(path);
        fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(output.note(format!(
        "wrote {} files under {} and {}",
        files.len(),
        args.out_dir.join(COMPLETIONS_DIR).display(),
        args.out_dir.join(MAN_DIR).display()
    )))
}

/// Files in the owned directories under `root` that `wanted` does not list,
/// relative to `root`. Missing directories have no extra files.
pub fn extra_files(root: &Path, wanted: &BTreeSet<PathBuf>) -> anyhow::Result<Vec<PathBuf>> {
    let mut extra = Vec::new();
    for dir in [COMPLETIONS_DIR, MAN_DIR] {
        let entries = match fs::read_dir(root.join(dir)) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                return Err(err)
                    .with_context(|| format!("cannot list {}", root.join(dir).display()));
            }
        };
        for entry in entries {
            let entry =
                entry.with_context(|| format!("cannot list {}", root.join(dir).display()))?;
            let relative = Path::new(dir).join(entry.file_name());
            if !wanted.contains(&relative) {
                extra.push(relative);
            }
        }
    }
    extra.sort();
    Ok(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_and_every_visible_command_gets_a_file() {
        let files = render_all();
        let names: Vec<String> = files
            .iter()
            .map(|(path, _)| path.to_string_lossy().replace('\\', "/"))
            .collect();
        for expected in [
            "completions/scimctl.bash",
            "completions/_scimctl",
            "completions/scimctl.fish",
            "completions/_scimctl.ps1",
            "completions/scimctl.elv",
            "man/scimctl.1",
            "man/scimctl-login.1",
            "man/scimctl-keys.1",
            "man/scimctl-keys-create.1",
            "man/scimctl-keys-revoke.1",
            "man/scimctl-completions.1",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        assert!(
            !names.iter().any(|n| n.contains("generate-docs")),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
        assert_eq!(render_all(), files, "rendering is deterministic");
    }

    #[test]
    fn generate_writes_and_prunes() {
        let tmp = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(tmp.path().join(MAN_DIR)).expect("mkdir");
        fs::write(tmp.path().join(MAN_DIR).join("scimctl-gone.1"), "old").expect("write");
        generate(GenerateDocsArgs {
            out_dir: tmp.path().to_owned(),
        })
        .expect("generate");
        let wanted: BTreeSet<PathBuf> = render_all().into_iter().map(|(p, _)| p).collect();
        assert!(extra_files(tmp.path(), &wanted).expect("list").is_empty());
        for path in &wanted {
            assert!(tmp.path().join(path).is_file(), "{}", path.display());
        }
    }
}
