//! The command line: `Cli` (every flag and subcommand, whose doc comments are
//! the help text), the context commands share, and the dispatch from a parsed
//! command to its module and from its result to the output.

pub mod allowlist;
pub mod audit;
pub mod auth;
pub mod breaker;
pub mod complete;
pub mod docs;
pub mod doctor;
pub mod drift;
pub mod exit;
mod follow;
pub mod groups;
pub mod help;
pub mod keys;
pub mod listing;
pub mod locks;
pub mod login;
pub mod mappings;
pub mod profiles;
pub mod recover;
pub mod roles;
pub mod scim;
pub mod server;
pub mod sessions;
pub mod settings;
pub mod users;
pub mod whoami;

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::api::settings::Toggle;
use crate::client::Client;
use crate::config::{self, Config, Resolved};
use crate::credentials::{Credentials, TokenSource};
use crate::output::jq::Jq;
use crate::output::{self, Answer, Format, Output, View};

pub use exit::{CliError, Exit};

/// Provision users over SCIM 2.0 and administer the service.
///
/// `scimctl server` runs the SCIM 2.0 provisioning service that identity
/// providers (Okta, Entra ID, any SCIM client) push users and groups into.
/// Every other command is a client of that service's admin API: log in with
/// an API key, then manage keys, users and groups, roles and settings, the
/// IP allowlist, sessions and the audit log — and deprovision users and
/// prove it.
///
/// Try it: `scimctl server --dev` in one terminal, then paste the `export`
/// lines it prints into another and run `scimctl whoami`.
#[derive(Parser, Debug)]
#[command(name = "scimctl", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand takes.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Server address [default: the profile's, else http://127.0.0.1:8080]
    ///
    /// A key stored by `scimctl login` is only sent to its profile's
    /// address: with another address the command stops before sending
    /// anything (exit 4), unless SCIMCTL_TOKEN gives the key explicitly.
    /// Empty means unset.
    #[arg(
        long,
        global = true,
        env = "SCIMCTL_ADDR",
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub addr: Option<String>,

    /// Profile from config.toml [default: default_profile, else "default"]
    ///
    /// A profile is a named server address with its own stored token, so
    /// one machine can administer several servers.
    #[arg(
        long,
        global = true,
        env = "SCIMCTL_PROFILE",
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub profile: Option<String>,

    /// Output format
    ///
    /// Tables for people; JSON, YAML or CSV for scripts. A list is a JSON
    /// array or a YAML sequence. CSV has a header line naming the table's
    /// columns (see --columns), then a row per item with nothing cut short;
    /// a report or setting, which no list shows, has its JSON's top-level
    /// fields as columns (a nested value as compact JSON).
    #[arg(
        short,
        long,
        global = true,
        value_enum,
        default_value_t = Format::Table,
        value_name = "FORMAT",
        help_heading = "Global options"
    )]
    pub output: Format,

    /// Filter the JSON output with a jq expression (implies -o json)
    ///
    /// Prints each result on its own line: strings as raw text, anything
    /// else as JSON. On a listing it runs on the whole array (held in
    /// memory until the last page); with `audit list --follow`, on each
    /// entry. A bad expression is a usage error before any request.
    #[arg(
        long,
        global = true,
        value_name = "EXPR",
        value_parser = parse_jq,
        help_heading = "Global options"
    )]
    pub jq: Option<Jq>,

    /// Table and CSV columns to show, in this order (e.g. id,name,status)
    ///
    /// Names are the table's headers in lower case, with `-` between words
    /// (last-used-ip); an unknown name lists the valid ones.
    #[arg(
        long,
        global = true,
        value_name = "COLUMNS",
        value_delimiter = ',',
        help_heading = "Global options"
    )]
    pub columns: Option<Vec<String>>,

    /// Never send table output through a pager
    ///
    /// On a terminal, tables go through $PAGER (default `less -FRX`, which
    /// prints short output as it is); PAGER= or PAGER=cat also turn it off.
    #[arg(long, global = true, help_heading = "Global options")]
    pub no_pager: bool,

    /// Confirm destructive commands without asking
    ///
    /// Without a terminal to ask on, destructive commands refuse to run
    /// unless this is given.
    #[arg(long, global = true, help_heading = "Global options")]
    pub yes: bool,

    /// Print no diagnostics on stderr: only data, and errors
    #[arg(short, long, global = true, help_heading = "Global options")]
    pub quiet: bool,

    /// Print the settings in use and each request on stderr
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "quiet",
        help_heading = "Global options"
    )]
    pub verbose: bool,
}

/// `--jq`: compiled while parsing, so a bad filter is a usage error (exit 2)
/// naming the problem before any request.
fn parse_jq(code: &str) -> Result<Jq, String> {
    Jq::parse(code)
}

/// `--jq` filters JSON: with `-o` naming another format it is a usage
/// error (rather than one of the two being ignored). `-o json --jq` is fine.
pub fn check_jq_format(matches: &clap::ArgMatches) -> Result<(), clap::Error> {
    let mut level = Some(matches);
    while let Some(matches) = level {
        let explicit =
            matches.value_source("output") == Some(clap::parser::ValueSource::CommandLine);
        if explicit
            && matches.get_one::<Jq>("jq").is_some()
            && matches.get_one::<Format>("output") != Some(&Format::Json)
        {
            return Err(help::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                "--jq filters JSON: use it with -o json or without -o",
            ));
        }
        level = matches.subcommand().map(|(_, sub)| sub);
    }
    Ok(())
}

impl GlobalArgs {
    /// How data is shown, from `-o`, `--jq`, `--columns` and `--no-pager`.
    pub fn view(&self) -> View {
        View {
            format: if self.jq.is_some() {
                Format::Json
            } else {
                self.output
            },
            jq: self.jq.clone(),
            columns: self.columns.clone(),
            pager: !self.no_pager,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the SCIM provisioning service
    ///
    /// `--dev` starts a throwaway server on an embedded SQLite database in a
    /// temporary directory and prints a one-time root API key. In production
    /// point `--database` at a SQLite file or a PostgreSQL URL, or use
    /// `--config scimctl.toml`.
    Server(server::ServerArgs),

    /// Store an API key for this profile, after checking it with the server
    ///
    /// On a terminal, prompts for the key; otherwise pass --token-stdin and
    /// pipe it in. The key goes to the OS keyring, or where there is none
    /// (a headless server, CI) to a credentials file only you can read.
    /// --addr is saved as the profile's address.
    Login(login::LoginArgs),

    /// Forget this profile's stored API key
    Logout,

    /// Show the API key in use: its id, name, scopes and expiry
    Whoami,

    /// Show which profile, server and credential are in use, and whether they work
    #[command(subcommand)]
    Auth(auth::AuthCommand),

    /// List the configured profiles
    #[command(subcommand)]
    Profiles(profiles::ProfilesCommand),

    /// Create, list, show and revoke API keys
    #[command(subcommand)]
    Keys(keys::KeysCommand),

    /// Show or switch automatic provisioning of new users by the IdP
    ///
    /// On (the default), a user the IdP pushes is created with the default
    /// role. Off, the IdP's attempts to create users are refused (403) and
    /// audited; updates to existing users still apply. `provisioning
    /// breaker` guards against a burst of SCIM deprovisionings.
    #[command(subcommand)]
    Provisioning(breaker::ProvisioningCommand),

    /// Show or switch automatic deprovisioning of deactivated users
    ///
    /// On (the default), a user the IdP deactivates or deletes loses access
    /// at once: roles, groups, personal keys and sessions are removed and a
    /// lock is set. Off, the user is flagged pending and keeps access until
    /// an operator runs `scimctl users deprovision`.
    #[command(subcommand)]
    Deprovisioning(settings::ToggleCommand),

    /// Show or set the role every newly provisioned user gets
    #[command(subcommand)]
    DefaultRole(settings::DefaultRoleCommand),

    /// List, create and delete roles (named sets of permissions)
    #[command(subcommand)]
    Roles(roles::RolesCommand),

    /// Grant roles for IdP groups and SCIM role values (identity mappings)
    #[command(subcommand)]
    Mappings(mappings::MappingsCommand),

    /// List and change the IP allowlist; check whether an address may connect
    ///
    /// Only addresses inside an entry may use the server's APIs; an empty
    /// list allows every address.
    #[command(subcommand)]
    Allowlist(allowlist::AllowlistCommand),

    /// List, show and create users; deprovision, verify and reactivate them
    #[command(subcommand)]
    Users(users::UsersCommand),

    /// List and show groups and their members
    #[command(subcommand)]
    Groups(groups::GroupsCommand),

    /// List and remove the locks that block deprovisioned users' credentials
    #[command(subcommand)]
    Locks(locks::LocksCommand),

    /// Issue session tokens for users
    #[command(subcommand)]
    Sessions(sessions::SessionsCommand),

    /// Check whether a session token or API key is live; exit 0 if so, 5 if not
    ///
    /// Prints whose it is, with their roles and groups, or why it is not live
    /// (revoked, expired, user locked or inactive, unknown).
    Introspect(sessions::IntrospectArgs),

    /// Read the audit log: who changed what, when, from where
    #[command(subcommand)]
    Audit(audit::AuditCommand),

    /// See what identity providers sent to /scim/v2 and what they were
    /// answered (the server's request journal)
    #[command(subcommand)]
    Scim(scim::ScimCommand),

    /// Compare an IdP's user export with the directory; exit 5 on drift
    ///
    /// Lists users active here but absent or inactive in the IdP, users
    /// active in the IdP but missing or inactive here, and (with a groups
    /// column) group memberships that differ: one row per difference, the
    /// counts on stderr. Needs users:read. The file is checked whole before
    /// anything is sent; a malformed one is a usage error (exit 2) naming
    /// the line and column.
    Drift(drift::DriftArgs),

    /// Check an IdP connection before go-live; exit 5 if any check fails
    ///
    /// One line per check, with the fix under each failure: the server
    /// answers (and its version and, over https, its certificate); the
    /// IdP's SCIM key (read from standard input or a hidden prompt, never
    /// an argument) is live, has scim:provision and does not expire within
    /// 14 days (a warning); the allowlist admits the IdP's egress ranges
    /// (--ranges); auto-provisioning is on, auto-deprovisioning's state
    /// explained (off is a warning); the default role exists and is not
    /// admin; and the IdP's own connection test, replayed with the SCIM
    /// key, answers as that IdP requires. Warnings do not change the exit
    /// status. Your own key (the usual login) needs settings:manage,
    /// roles:manage and allowlist:manage.
    Doctor(doctor::DoctorArgs),

    /// Print a shell completion script
    ///
    /// A static script completes commands, flags and fixed values:
    ///   bash:  scimctl completions bash > ~/.local/share/bash-completion/completions/scimctl
    ///   zsh:   scimctl completions zsh > "${fpath[1]}/_scimctl"
    ///   fish:  scimctl completions fish > ~/.config/fish/completions/scimctl.fish
    ///
    /// The dynamic one also completes user names, key ids, group, role and
    /// lock names from the server the command line points at (its --addr or
    /// --profile, with the key it would use; nothing after 2 s):
    ///   bash:  echo 'source <(COMPLETE=bash scimctl)' >> ~/.bashrc
    ///   zsh:   echo 'source <(COMPLETE=zsh scimctl)' >> ~/.zshrc
    ///   fish:  echo 'COMPLETE=fish scimctl | source' >> ~/.config/fish/config.fish
    #[command(verbatim_doc_comment)]
    Completions(docs::CompletionsArgs),

    /// Write completions/ and man/ (for maintainers)
    #[command(hide = true)]
    GenerateDocs(docs::GenerateDocsArgs),
}

/// What commands share: the global options, and the settings and client
/// derived from them on demand (so `server` and `completions` never read
/// the CLI's config).
#[derive(Debug)]
pub struct Context {
    pub global: GlobalArgs,
}

/// The CLI's settings for a command that talks to a server.
#[derive(Debug)]
pub struct Settings {
    pub config_dir: PathBuf,
    pub config: Config,
    pub resolved: Resolved,
}

impl Settings {
    pub fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.resolved.profile,
            self.config.credential_store,
            &self.config_dir,
        )
    }
}

impl Context {
    pub fn new(global: GlobalArgs) -> Self {
        Context { global }
    }

    /// Reads config.toml and settles the profile and address.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let config_dir = config::config_dir()?;
        let config = config::load(&config_dir)?;
        let resolved = config::resolve(
            self.global.addr.as_deref(),
            self.global.profile.as_deref(),
            &config,
        )?;
        self.debug(|| {
            format!(
                "profile {:?}, server {} (from {})",
                resolved.profile, resolved.addr, resolved.addr_source
            )
        });
        Ok(Settings {
            config_dir,
            config,
            resolved,
        })
    }

    /// A client for the resolved server with the token in use. A stored
    /// token is refused (before anything is sent) when the address is not
    /// the one it was stored for.
    pub async fn client(&self) -> anyhow::Result<(Client, Settings)> {
        let settings = self.settings()?;
        let (token, source) = settings.credentials().token().await?;
        self.debug(|| format!("token from {source}"));
        auth::check_binding(&settings, &source)?;
        let client = Client::new(&settings.resolved.addr, &token)?
            .verbose(self.global.verbose)
            .credential(auth::credential_label(&source, &settings.resolved.profile));
        Ok((client, settings))
    }

    /// Whether a prompt can be shown and answered: stdin to read the answer
    /// and stderr to show the question must both be terminals.
    pub fn can_prompt(&self) -> bool {
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
    }

    /// Whether a destructive command must ask before acting (not with
    /// `--yes`). Without `--yes` and without a terminal to ask on, a usage
    /// error saying to pass `--yes`: call it before any request so that
    /// nothing is sent. `action` ends "pass --yes to …".
    pub fn must_confirm(&self, action: &str) -> Result<bool, CliError> {
        if self.global.yes {
            return Ok(false);
        }
        if !self.can_prompt() {
            return Err(CliError::Usage(format!(
                "no terminal to confirm on: pass --yes to {action}"
            )));
        }
        Ok(true)
    }

    /// Asks `question` on the terminal, defaulting to no; anything but yes
    /// is [`CliError::Cancelled`] saying `not_done`.
    pub async fn confirm(&self, question: String, not_done: String) -> anyhow::Result<()> {
        let confirmed = tokio::task::spawn_blocking(move || {
            dialoguer::Confirm::new()
                .with_prompt(question)
                .default(false)
                .interact_opt()
        })
        .await??;
        if confirmed != Some(true) {
            return Err(CliError::Cancelled(not_done).into());
        }
        Ok(())
    }

    /// A `--verbose` line on stderr. Built lazily: most runs are not verbose.
    pub fn debug(&self, line: impl FnOnce() -> String) {
        if self.global.verbose {
            // A closed stderr must not turn a working command into a panic.
            let _ = writeln!(std::io::stderr(), "{}", line());
        }
    }
}

/// For login and logout: a set `SCIMCTL_TOKEN` overrides whatever they
/// store or remove, which would otherwise surprise.
pub(crate) fn env_token_note() -> Option<String> {
    crate::credentials::token_from_env().map(|_| {
        format!(
            "note: {} is set and takes precedence over any stored token",
            TokenSource::Env
        )
    })
}

/// Runs a parsed command line and prints its output. The `Exit` is the
/// status of a command that succeeded (0, or 5 when a check said no); an
/// error's status comes from `exit::classify`.
pub async fn run(cli: Cli) -> anyhow::Result<Exit> {
    check_columns(&cli.global, &cli.command)?;
    let ctx = Context::new(cli.global);
    let output = match cli.command {
        Command::Server(mut args) => match args.action.take() {
            Some(server::ServerAction::Recover(recover)) => recover::run(&ctx, recover).await?,
            None => {
                server::run(args).await?;
                Output::default()
            }
        },
        Command::Login(args) => login::login(&ctx, args).await?,
        Command::Logout => login::logout(&ctx).await?,
        Command::Whoami => whoami::run(&ctx).await?,
        Command::Auth(command) => auth::run(&ctx, command).await?,
        Command::Profiles(command) => profiles::run(&ctx, command).await?,
        Command::Keys(command) => keys::run(&ctx, command).await?,
        Command::Provisioning(command) => breaker::run(&ctx, command).await?,
        Command::Deprovisioning(command) => {
            settings::toggle(&ctx, Toggle::AutoDeprovisioning, command).await?
        }
        Command::DefaultRole(command) => settings::default_role(&ctx, command).await?,
        Command::Roles(command) => roles::run(&ctx, command).await?,
        Command::Mappings(command) => mappings::run(&ctx, command).await?,
        Command::Allowlist(command) => allowlist::run(&ctx, command).await?,
        Command::Users(command) => users::run(&ctx, command).await?,
        Command::Groups(command) => groups::run(&ctx, command).await?,
        Command::Locks(command) => locks::run(&ctx, command).await?,
        Command::Sessions(command) => sessions::run(&ctx, command).await?,
        Command::Introspect(args) => sessions::introspect(&ctx, args).await?,
        Command::Audit(command) => audit::run(&ctx, command).await?,
        Command::Scim(command) => scim::run(&ctx, command).await?,
        Command::Drift(args) => drift::run(&ctx, args).await?,
        Command::Doctor(args) => doctor::run(&ctx, args).await?,
        Command::Completions(args) => docs::completions(args),
        Command::GenerateDocs(args) => docs::generate(args)?,
    };
    let answer = output::emit(&output, &ctx.global.view(), ctx.global.quiet)?;
    if let Some(failure) = output.failure {
        return Err(failure);
    }
    Ok(match answer {
        Answer::Yes => Exit::Success,
        Answer::No => Exit::No,
    })
}

/// A `--columns` the listing does not have is a usage error before any
/// request. Streamed listings check for themselves (`listing::stream`);
/// these are the commands that print a whole list.
fn check_columns(global: &GlobalArgs, command: &Command) -> Result<(), output::RenderError> {
    use crate::api::{ApiKey, allowlist::AllowlistEntry, roles::Role};
    use crate::output::Show;
    let columns = match command {
        Command::Keys(keys::KeysCommand::List(_)) => ApiKey::COLUMNS,
        Command::Roles(roles::RolesCommand::List(_)) => Role::COLUMNS,
        Command::Allowlist(allowlist::AllowlistCommand::List(_)) => AllowlistEntry::COLUMNS,
        Command::Drift(_) => crate::output::drift::Difference::COLUMNS,
        _ => return Ok(()),
    };
    output::pick_columns(columns, global.columns.as_deref(), Vec::new()).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("scimctl").chain(args.iter().copied()))
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli =
            parse(&["keys", "list", "-o", "json", "--all", "--profile", "p"]).expect("parses");
        assert_eq!(cli.global.output, Format::Json);
        assert_eq!(cli.global.profile.as_deref(), Some("p"));
    }

    #[test]
    fn scopes_repeat_and_split_on_commas_and_unknown_ones_are_named() {
        use crate::api::scope::Scope;
        let cli = parse(&[
            "keys",
            "create",
            "--name",
            "n",
            "--scope",
            "users:read,groups:read",
            "--scope",
            "keys:manage",
        ])
        .expect("parses");
        let Command::Keys(keys::KeysCommand::Create(args)) = cli.command else {
            panic!("not keys create");
        };
        assert_eq!(
            args.scopes,
            vec![Scope::UsersRead, Scope::GroupsRead, Scope::KeysManage]
        );

        let err = parse(&["keys", "create", "--name", "n", "--scope", "users:delete"])
            .expect_err("unknown scope");
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("users:delete"), "{err}");
    }

    #[test]
    fn a_bad_expiry_is_a_usage_error_naming_the_value() {
        let err = parse(&[
            "keys",
            "create",
            "--name",
            "n",
            "--scope",
            "users:read",
            "--expires",
            "9x",
        ])
        .expect_err("bad expiry");
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains("'9x'"), "{text}");
        assert!(text.contains("90d"), "{text}");
        assert!(text.contains("RFC 3339"), "{text}");
    }
}
