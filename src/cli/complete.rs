//! Dynamic shell completion (`source <(COMPLETE=bash scimctl)`): clap's
//! completion engine answers from the command line's definition, and the
//! completers here add what only the server knows: user names, key ids,
//! group and role names, lock ids.
//!
//! A completer asks the server the command line is pointed at (its
//! `--addr`/`--profile` or their variables) with the credential the command
//! would use, under the same binding rule: a stored key is never sent to
//! another address. Anything that goes wrong (no server, no key, a refusal,
//! more than [`BUDGET`]) completes nothing rather than printing an error
//! into the shell's prompt.

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::time::Duration;

use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};
use clap_complete::env::{Bash, CompleteEnv, Elvish, EnvCompleter, Fish, Powershell, Shells, Zsh};

use super::{Context, GlobalArgs, help};
use crate::api::groups::GroupListQuery;
use crate::api::users::UserListQuery;
use crate::client::{Client, ClientError};

/// The variable that asks for completions, as clap's scripts set it.
const VAR: &str = "COMPLETE";
/// How long a completer may wait for the server: a Tab must not hang.
const BUDGET: Duration = Duration::from_secs(2);
/// At most this many server-side candidates.
const MAX_CANDIDATES: u32 = 100;

/// Answers a completion request (`COMPLETE=SHELL` in the environment) and
/// exits; returns at once otherwise. First thing in `main`.
pub fn answer_if_asked() {
    CompleteEnv::with_factory(help::command)
        .var(VAR)
        .shells(Shells(&[&BashColons, &Zsh, &Fish, &Powershell, &Elvish]))
        .complete();
}

/// clap's bash adapter, registered through a function that first joins the
/// words bash split at colons, so `--scope users:<Tab>` completes.
struct BashColons;

impl EnvCompleter for BashColons {
    fn name(&self) -> &'static str {
        Bash.name()
    }

    fn is(&self, name: &str) -> bool {
        Bash.is(name)
    }

    fn write_registration(
        &self,
        var: &str,
        _name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        let completer = shlex::try_quote(completer).map_err(std::io::Error::other)?;
        let bin = shlex::try_quote(bin).map_err(std::io::Error::other)?;
        write!(
            buf,
            "{BASH_JOIN_COLONS}{}",
            BASH_DYNAMIC
                .replace("VAR", var)
                .replace("COMPLETER", &completer)
                .replace("BIN", &bin)
        )
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn std::io::Write,
    ) -> std::io::Result<()> {
        Bash.write_complete(cmd, args, current_dir, buf)
    }
}

/// `_scimctl_join_colons`: COMP_WORDS with each `:` glued to its
/// neighbours, into `words` and `cword` (the caller's locals), and
/// `_scimctl_after_colon`: COMPREPLY cut to what follows the current word's
/// last colon, the part bash replaces. Shared with the static bash script.
/// (From the words alone a colon typed before a space, `users: --name`,
/// cannot be told from one inside a word; it joins too, which only matters
/// for completing that word.)
pub(super) const BASH_JOIN_COLONS: &str = r#"
_scimctl_join_colons() {
    words=()
    cword=0
    local i glue=0
    for ((i = 0; i < ${#COMP_WORDS[@]}; i++)); do
        if [[ ${COMP_WORDS[i]} == : && ${#words[@]} -gt 0 ]]; then
            words[-1]+=:
            glue=1
        elif ((glue)); then
            words[-1]+=${COMP_WORDS[i]}
            glue=0
        else
            words+=("${COMP_WORDS[i]}")
        fi
        ((i == COMP_CWORD)) && cword=$((${#words[@]} - 1))
    done
}

_scimctl_after_colon() {
    if [[ $1 == *:* && $COMP_WORDBREAKS == *:* ]]; then
        local before_colon=${1%"${1##*:}"}
        COMPREPLY=("${COMPREPLY[@]#"$before_colon"}")
    fi
}
"#;

/// clap's bash protocol (`_CLAP_*` variables, answers split by `\013`),
/// called with the joined words.
const BASH_DYNAMIC: &str = r#"
_scimctl_dynamic() {
    local -a words
    local cword
    _scimctl_join_colons
    local IFS=$'\013'
    COMPREPLY=( $( \
        _CLAP_IFS="$IFS" \
        _CLAP_COMPLETE_INDEX="$cword" \
        _CLAP_COMPLETE_COMP_TYPE="${COMP_TYPE:-9}" \
        VAR="bash" \
        COMPLETER -- "${words[@]}" \
    ) ) || { unset COMPREPLY; return; }
    _scimctl_after_colon "${words[cword]}"
    if [[ ${COMPREPLY-} =~ [=/:]$ ]]; then
        compopt -o nospace 2> /dev/null
    fi
}
complete -o nospace -o bashdefault -F _scimctl_dynamic BIN
"#;

/// userNames starting with what was typed (ignoring case, as userNames
/// compare), the display name as the description.
pub fn users() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().into_owned();
        let query = UserListQuery {
            filter: (!typed.is_empty()).then(|| format!("userName sw {}", json_string(&typed))),
            limit: Some(MAX_CANDIDATES),
            ..UserListQuery::default()
        };
        ask_server(move |client| async move {
            let page = client.list_users_page(&query).await?;
            Ok(page
                .items
                .into_iter()
                .map(|user| candidate(user.user_name, user.display_name))
                .collect())
        })
    })
}

/// Live keys' ids, each described by its name.
pub fn keys() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().into_owned();
        ask_server(move |client| async move {
            let keys = client.list_keys(false).await?;
            Ok(keys
                .into_iter()
                .filter(|key| key.id.starts_with(&typed))
                .map(|key| candidate(key.id, Some(key.name)))
                .collect())
        })
    })
}

/// Group display names.
pub fn groups() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().into_owned();
        ask_server(move |client| async move {
            let query = GroupListQuery {
                limit: Some(1000),
                cursor: None,
            };
            let page = client.list_groups_page(&query).await?;
            Ok(page
                .items
                .into_iter()
                .filter(|group| group.display_name.starts_with(&typed))
                .take(MAX_CANDIDATES as usize)
                .map(|group| {
                    let members = match group.member_count {
                        1 => "1 member".to_owned(),
                        count => format!("{count} members"),
                    };
                    candidate(group.display_name, Some(members))
                })
                .collect())
        })
    })
}

/// Role names, described by their permissions.
pub fn roles() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().into_owned();
        ask_server(move |client| async move {
            let roles = client.list_roles().await?;
            Ok(roles
                .into_iter()
                .filter(|role| role.name.starts_with(&typed))
                .map(|role| {
                    let permissions: Vec<&str> = role
                        .permissions
                        .iter()
                        .map(|scope| scope.as_str())
                        .collect();
                    candidate(role.name, Some(permissions.join(", ")))
                })
                .collect())
        })
    })
}

/// Mapping ids, each described by its source and role.
pub fn mappings() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().into_owned();
        ask_server(move |client| async move {
            let mappings = client.list_mappings().await?;
            Ok(mappings
                .into_iter()
                .filter(|mapping| mapping.id.starts_with(&typed))
                .map(|mapping| {
                    let source = crate::output::mappings::source_text(&mapping.source);
                    candidate(mapping.id, Some(format!("{source} → {}", mapping.role)))
                })
                .collect())
        })
    })
}

/// Lock ids, each described by its user.
pub fn locks() -> ArgValueCompleter {
    ArgValueCompleter::new(|current: &OsStr| {
        let typed = current.to_string_lossy().into_owned();
        ask_server(move |client| async move {
            let page = client.list_locks_page(None).await?;
            Ok(page
                .items
                .into_iter()
                .filter(|lock| lock.id.starts_with(&typed))
                .map(|lock| candidate(lock.id, Some(lock.user.user_name)))
                .collect())
        })
    })
}

fn candidate(value: String, help: Option<String>) -> CompletionCandidate {
    CompletionCandidate::new(value).help(help.map(Into::into))
}

/// A SCIM filter's string literal (JSON's syntax).
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// Runs `call` against the server the command line being completed points
/// at; no candidates on any failure or after [`BUDGET`].
fn ask_server<F>(call: impl FnOnce(Client) -> F) -> Vec<CompletionCandidate>
where
    F: Future<Output = Result<Vec<CompletionCandidate>, ClientError>>,
{
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Vec::new();
    };
    let context = Context::new(global_args(&completed_words()));
    let candidates = runtime.block_on(async {
        let answer = tokio::time::timeout(BUDGET, async {
            let (client, _) = context.client().await.ok()?;
            call(client).await.ok()
        });
        answer.await.ok().flatten().unwrap_or_default()
    });
    // A keyring call still blocked must not hold the shell.
    runtime.shutdown_background();
    candidates
}

/// The command line being completed: what the shell passes after `--`.
fn completed_words() -> Vec<String> {
    std::env::args()
        .skip_while(|arg| arg != "--")
        .skip(1)
        .collect()
}

/// `--addr` and `--profile` as the command line being completed gives them,
/// else their variables (empty means unset, as for a command).
fn global_args(words: &[String]) -> GlobalArgs {
    let option = |flag: &str, var: &str| {
        flag_value(words, flag).or_else(|| std::env::var(var).ok().filter(|v| !v.is_empty()))
    };
    GlobalArgs {
        addr: option("--addr", "SCIMCTL_ADDR"),
        profile: option("--profile", "SCIMCTL_PROFILE"),
        ..GlobalArgs::default()
    }
}

/// The value of the last `--flag VALUE` or `--flag=VALUE` in `words`.
fn flag_value(words: &[String], flag: &str) -> Option<String> {
    let mut value = None;
    let mut words = words.iter();
    while let Some(word) = words.next() {
        if word == flag {
            value = words.next().cloned();
        } else if let Some(inline) = word.strip_prefix(flag).and_then(|w| w.strip_prefix('=')) {
            value = Some(inline.to_owned());
        }
    }
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_owned).collect()
    }

    #[test]
    fn the_completed_line_names_the_server() {
        let line = words("scimctl --profile prod users show --addr=http://a:1 al");
        assert_eq!(flag_value(&line, "--addr").as_deref(), Some("http://a:1"));
        assert_eq!(flag_value(&line, "--profile").as_deref(), Some("prod"));
        assert_eq!(
            flag_value(&words("scimctl users show --addr"), "--addr"),
            None
        );
        assert_eq!(flag_value(&words("scimctl --address x"), "--addr"), None);
    }

    #[test]
    fn typed_text_is_quoted_as_a_scim_string() {
        assert_eq!(json_string(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
