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
