//! `--jq EXPR`: a jq filter over the JSON a command would print, run by
//! jaq (a maintained jq implementation) rather than anything hand-written.
//! Each result prints on its own line: a string as its raw text (as
//! `gh --jq` and `jq -r` do, so `--jq '.[].id'` feeds `xargs`), anything
//! else as pretty-printed JSON.

use std::fmt;
use std::io::Write;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

use super::RenderError;

/// A jq filter known to compile. Only its text is kept: the compiled form
/// borrows from a loader and is cheap to make again where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jq {
    code: String,
}

type Filter = jaq_core::Filter<data::JustLut<Val>>;

impl Jq {
    /// Checks `code` compiles: for clap, so a bad filter is a usage error
    /// before any request. The error names the problem and where it is.
    pub fn parse(code: &str) -> Result<Jq, String> {
        compile(code)?;
        Ok(Jq {
            code: code.to_owned(),
        })
    }

    /// Runs the filter on `json` (one JSON value) and prints each result.
    pub fn run(&self, json: &[u8], out: &mut dyn Write) -> Result<(), RenderError> {
        let filter = compile(&self.code).map_err(RenderError::Jq)?;
        let input = jaq_json::read::parse_single(json)
            .map_err(|err| RenderError::Jq(format!("cannot read the JSON: {err:?}")))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
        for result in filter.id.run((ctx, input)).map(unwrap_valr) {
            let value = result.map_err(|err| RenderError::Jq(err.to_string()))?;
            match &value {
                Val::TStr(text) => out.write_all(text)?,
                _ => {
                    let pretty = jaq_json::write::Pp {
                        indent: Some("  ".to_owned()),
                        sep_space: true,
                        ..jaq_json::write::Pp::default()
                    };
                    jaq_json::write::write(out, &pretty, 0, &value)?;
                }
            }
            out.write_all(b"\n")?;
        }
        Ok(())
    }
}

impl fmt::Display for Jq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code)
    }
}

/// jq's standard library (jaq's core, std and JSON definitions) and `code`,
/// compiled; or what is wrong with `code`, in words.
fn compile(code: &str) -> Result<Filter, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let loader = Loader::new(defs);
    let arena = Arena::default();
    let modules = loader
        .load(&arena, File { code, path: () })
        .map_err(|errors| {
            let mut problems = Vec::new();
            for (_, error) in errors {
                match error {
                    jaq_core::load::Error::Io(io) => {
                        problems.extend(io.into_iter().map(|(path, why)| format!("{path}: {why}")));
                    }
                    jaq_core::load::Error::Lex(lex) => {
                        problems.extend(lex.into_iter().map(|(expected, found)| {
                            format!("expected {} {}", expected.as_str(), found_at(code, found))
                        }));
                    }
                    jaq_core::load::Error::Parse(parse) => {
                        problems.extend(parse.into_iter().map(|(expected, found)| {
                            format!("expected {} {}", expected.as_str(), found_at(code, found))
                        }));
                    }
                }
            }
            problems.join("; ")
        })?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            errors
                .into_iter()
                .flat_map(|(_, undefined)| undefined)
                .map(|(name, what)| {
                    format!("undefined {} {name} {}", what.as_str(), at(code, name))
                })
                .collect::<Vec<_>>()
                .join("; ")
        })
}

/// Where `part` (a slice of `code`) starts, as people count: "at
/// character 4", or "at the end of the filter".
fn at(code: &str, part: &str) -> String {
    let start = (part.as_ptr() as usize).saturating_sub(code.as_ptr() as usize);
    if start >= code.trim_end().len() {
        return "at the end of the filter".to_owned();
    }
    format!("at character {}", code[..start].chars().count() + 1)
}

/// [`at`], with the text found there: "at character 4 (found `]`)".
fn found_at(code: &str, part: &str) -> String {
    let found: String = part.trim().chars().take(20).collect();
    let position = at(code, part);
    if found.is_empty() || position.ends_with("filter") {
        position
    } else {
        format!("{position} (found `{found}`)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, json: &str) -> Result<String, RenderError> {
        let mut out = Vec::new();
        Jq::parse(code)
            .map_err(RenderError::Jq)?
            .run(json.as_bytes(), &mut out)?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn strings_print_raw_and_the_rest_as_json() {
        let json = r#"[{"id":"k1","n":1},{"id":"k2","n":2}]"#;
        assert_eq!(run(".[].id", json).expect("runs"), "k1\nk2\n");
        assert_eq!(run("map(.n) | add", json).expect("runs"), "3\n");
        assert_eq!(
            run(".[0]", json).expect("runs"),
            "{\n  \"id\": \"k1\",\n  \"n\": 1\n}\n"
        );
        assert_eq!(run("length", json).expect("runs"), "2\n");
        assert_eq!(run("empty", json).expect("runs"), "");
    }

    #[test]
    fn a_bad_filter_says_what_and_where() {
        let err = Jq::parse(".[] | select(.id ==").expect_err("incomplete");
        assert!(err.contains("expected"), "{err}");
        let err = Jq::parse(".[] | nosuchfn").expect_err("undefined");
        assert!(err.contains("nosuchfn"), "{err}");
        assert!(err.contains("at character 7"), "{err}");
        let err = Jq::parse(".[] | {a: }").expect_err("no value");
        assert!(err.contains("at character 11 (found `}`)"), "{err}");
    }

    #[test]
    fn a_runtime_error_is_an_error() {
        let err = run(".foo", "[1]").expect_err("cannot index an array");
        assert!(matches!(err, RenderError::Jq(_)), "{err}");
    }
}
