//! `scimctl`: a SCIM 2.0 provisioning service and the admin CLI that drives
//! it, in one crate. `main.rs` only parses, runs and turns the result into an
//! exit code; everything else lives here so tests can reach it.

pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod credentials;
pub mod domain;
#[doc(hidden)]
pub mod fuzz_targets;
pub mod output;
pub mod scim;
pub mod server;
pub mod store;
pub mod text;

/// The layers import downwards only (`cli` → `client` → `api`; `server` →
/// `domain` → `store`, `scim`, `api`): checked on the source, so an import
/// that would tie the layers into a knot again fails here, before review.
#[cfg(test)]
mod layering {
    use std::path::Path;

    /// Every `.rs` file under `src/<dir>`, with its text up to its test
    /// module (tests may reach across layers).
    fn sources(dir: &str) -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
        let mut files = Vec::new();
        let mut pending = vec![root];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("list the sources") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|ext| ext == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read a source");
                    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                    files.push((path.display().to_string(), code.to_owned()));
                }
            }
        }
        files
    }

    #[test]
    fn the_wire_types_import_nothing_from_the_crate() {
        for (file, code) in sources("api") {
            assert!(!code.contains("crate::"), "{file} imports from the crate");
        }
    }

    #[test]
    fn the_store_knows_nothing_above_it_but_resolved_filters() {
        for (file, code) in sources("store") {
            for line in code.lines().filter(|line| line.contains("crate::")) {
                let allowed = ["crate::text", "crate::scim::resolved", "crate::api"];
                assert!(
                    allowed.iter().any(|prefix| line.contains(prefix)),
                    "{file}: {line}"
                );
            }
        }
    }

    #[test]
    fn domain_and_store_name_no_http_status() {
        for dir in ["domain", "store"] {
            for (file, code) in sources(dir) {
                for word in ["StatusCode", "axum", "http::"] {
                    assert!(!code.contains(word), "{file} names {word}");
                }
            }
        }
    }
}
