//! The checked-in `completions/` and `man/` match what the clap definition
//! generates: a changed flag or help text without regenerated docs fails here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use scimctl::cli::docs::{extra_files, render_all};

const REGENERATE: &str = "cargo run -- generate-docs --out-dir .";

#[test]
fn completions_and_man_pages_are_up_to_date() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let generated = render_all();
    let mut problems = Vec::new();
    for (path, bytes) in &generated {
        match std::fs::read(root.join(path)) {
            Ok(on_disk) if on_disk == *bytes => {}
            Ok(_) => problems.push(format!("{} is stale", path.display())),
            Err(err) => problems.push(format!("{} is missing ({err})", path.display())),
        }
    }
    let wanted: BTreeSet<PathBuf> = generated.into_iter().map(|(path, _)| path).collect();
    for extra in extra_files(root, &wanted).expect("list completions/ and man/") {
        problems.push(format!(
            "{} is not generated any more; delete it",
            extra.display()
        ));
    }
    assert!(
        problems.is_empty(),
        "completions/ or man/ differ from the CLI definition:\n  {}\nregenerate them with:\n  {REGENERATE}",
        problems.join("\n  ")
    );
}

/// What the checked-in bash completion offers for the words bash hands it
/// (already split at colons, as `COMP_WORDBREAKS` does), the last one being
/// completed.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/scimctl.bash");
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let program = format!(
        "source '{}'\n\
         COMP_WORDS=({})\n\
         COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1))\n\
         _scimctl_colons scimctl \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD - 1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" ")
    );
    let output = std::process::Command::new("bash")
        .args(["-c", &program])
        .output()
        .expect("run bash");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_values_that_hold_a_colon() {
    let scope = ["scimctl", "keys", "create", "--scope"];
    // `--scope users:` with the cursor after the colon: bash hands over
    // `users`, `:` and an empty word, or `users` and `:`; either way it
    // replaces only what follows the colon.
    for tail in [&["users", ":", ""][..], &["users", ":"]] {
        let words: Vec<&str> = scope.iter().chain(tail).copied().collect();
        assert_eq!(
            bash_completes(&words),
            ["read", "write", "deprovision"],
            "{words:?}"
        );
    }
    let words: Vec<&str> = scope.iter().chain(&["users", ":", "de"]).copied().collect();
    assert_eq!(bash_completes(&words), ["deprovision"]);
    // Words without a colon complete as before.
    assert!(bash_completes(&["scimctl", "keys", "create", "--sc"]).contains(&"--scope".to_owned()));
    let words: Vec<&str> = scope.iter().chain(&["aud"]).copied().collect();
    assert_eq!(bash_completes(&words), ["audit:read"]);
}
