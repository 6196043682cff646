//! `scimctl doctor`: go-live checks for an IdP connection, one per line;
//! exit 5 when any fails. The SCIM key is read from stdin or a hidden
//! prompt (never an argument); the operator's own key (the usual CLI
//! credential) reads the settings, roles and allowlist.

mod cert;
mod probe;
mod ranges;

use clap::Args;
use ipnet::IpNet;
use time::{Duration, OffsetDateTime};

use super::Context;
use crate::api::scope::Scope;
use crate::api::settings::Settings;
use crate::client::{Client, ClientError};
use crate::credentials::Secret;
use crate::output::doctor::{Check, DoctorReport};
use crate::output::{Answer, Output};
pub use probe::Idp;

/// A SCIM key expiring sooner than this is a warning.
const KEY_RENEW_WITHIN: Duration = Duration::days(14);

#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// The IdP whose connection test to replay [default: both]
    #[arg(long, value_enum)]
    pub idp: Option<Idp>,

    /// Read the IdP's SCIM key from standard input (its first line)
    ///
    /// Without it, doctor asks for the key on the terminal, hidden. The key
    /// is never an argument: it would sit in the shell's history and `ps`.
    #[arg(long)]
    pub token_stdin: bool,

    /// The IdP's egress ranges: one CIDR per line, `#` comments
    ///
    /// Every range must lie wholly inside the allowlist (an empty allowlist
    /// admits everyone). Okta publishes its ranges per cell at
    /// https://s3.amazonaws.com/okta-ip-ranges/ip_ranges.json; Microsoft
    /// publishes Entra ID's in the "Azure IP Ranges and Service Tags"
    /// download (service tag AzureActiveDirectory). Without this file the
    /// allowlist is not checked.
    #[arg(long, value_name = "FILE")]
    pub ranges: Option<String>,
}

pub async fn run(ctx: &Context, args: DoctorArgs) -> anyhow::Result<Output> {
    // Everything read from the operator first, so a bad file or a missing
    // key stops the command before anything is sent.
    let ranges = args.ranges.as_deref().map(ranges::read).transpose()?;
    let key = if args.token_stdin {
        super::login::read_token_line().await?
    } else if ctx.can_prompt() {
        super::login::prompt_token(format!(
            "SCIM key the IdP will use for {}",
            ctx.settings()?.resolved.addr
        ))
        .await?
    } else {
        return Err(super::CliError::Usage(
            "no terminal to ask for the SCIM key on: pass --token-stdin and pipe the key in"
                .to_owned(),
        )
        .into());
    };
    let settings = ctx.settings()?;
    let addr = settings.resolved.addr.clone();
    let idps = match args.idp {
        Some(idp) => vec![idp],
        None => vec![Idp::Okta, Idp::Entra],
    };

    let mut report = DoctorReport::default();
    let checks = &mut report.checks;
    let Some(probe) = server_check(&addr, checks).await else {
        return Ok(finish(report, ranges.is_none()));
    };
    scim_key_checks(&addr, &key, checks).await;
    match ctx.client().await {
        Ok((operator, _)) => operator_checks(&operator, ranges.as_deref(), checks).await,
        Err(err) => checks.push(Check::fail(
            "operator-key",
            format!("cannot read the settings with your own key: {err:#}"),
            "log in with a key that has settings:manage, roles:manage and allowlist:manage \
             (`scimctl login`), or set SCIMCTL_TOKEN",
        )),
    }
    for idp in idps {
        checks.push(match probe.connection_test(idp, &key).await {
            Ok(message) => Check::pass(idp.check_name(), message),
            Err(failure) => Check::fail(idp.check_name(), failure.message, failure.fix),
        });
    }
    Ok(finish(report, ranges.is_none()))
}

fn finish(report: DoctorReport, no_ranges: bool) -> Output {
    let answer = if report.any_failed() {
        Answer::No
    } else {
        Answer::Yes
    };
    let mut output = Output::one(report);
    if no_ranges {
        output = output.note(
            "the allowlist was not checked against the IdP's addresses: pass --ranges FILE \
             (docs/troubleshooting.md says where Okta and Microsoft publish theirs)",
        );
    }
    output.answer = answer;
    output
}

/// The server answers, its version, and over https its certificate. `None`
/// when nothing usable answered: every other check would fail the same way.
async fn server_check(addr: &str, checks: &mut Vec<Check>) -> Option<probe::Probe> {
    let probe = match probe::Probe::new(addr) {
        Ok(probe) => probe,
        Err(err) => {
            checks.push(Check::fail(
                "server",
                err.to_string(),
                "pass the server's address as --addr URL (or SCIMCTL_ADDR), e.g. \
                 https://scim.example.com",
            ));
            return None;
        }
    };
    let answer = match probe.server().await {
        Ok(answer) => answer,
        Err(problem) => {
            checks.push(Check::fail(
                "server",
                format!("{}: {problem}", probe.addr()),
                "check the address (--addr, SCIMCTL_ADDR or the profile's) and that \
                 `scimctl server` runs there and this machine can reach it",
            ));
            return None;
        }
    };
    let version = answer
        .version
        .map_or_else(|| "version unknown".to_owned(), |v| format!("scimctl {v}"));
    checks.push(Check::pass(
        "server",
        format!("{version} answers at {}", probe.addr()),
    ));
    if probe.is_https() {
        checks.push(match answer.certificate.as_deref().map(cert::read) {
            Some(Ok(validity)) => cert::judge(&validity, OffsetDateTime::now_utc()),
            Some(Err(problem)) => Check::fail(cert::NAME, problem, "install a valid certificate"),
            None => Check::fail(
                cert::NAME,
                "the TLS connection showed no certificate",
                "install a valid certificate where TLS ends",
            ),
        });
    }
    Some(probe)
}

/// The SCIM key is live and may provision, and when it expires.
async fn scim_key_checks(addr: &str, key: &Secret, checks: &mut Vec<Check>) {
    let new_key = "make a key for the IdP: `scimctl keys create --name okta --scope \
                   scim:provision --expires 365d`, and paste its token into the IdP";
    let who = match Client::new(addr, key) {
        Ok(client) => client.whoami().await,
        Err(err) => Err(err),
    };
    let who = match who {
        Ok(who) => who,
        Err(ClientError::Denied { message, .. }) => {
            checks.push(Check::fail(
                "scim-key",
                format!("the server refuses the SCIM key: {message}"),
                new_key,
            ));
            return;
        }
        Err(err) => {
            checks.push(Check::fail("scim-key", err.to_string(), new_key));
            return;
        }
    };
    let key = &who.key;
    if !key.scopes.contains(&Scope::ScimProvision) {
        checks.push(Check::fail(
            "scim-key",
            format!(
                "key {} ({}) is live but lacks scim:provision",
                key.id, key.name
            ),
            new_key,
        ));
        return;
    }
    checks.push(Check::pass(
        "scim-key",
        format!(
            "key {} ({}) is live and has scim:provision",
            key.id, key.name
        ),
    ));
    checks.push(key_expiry(key.expires_at, OffsetDateTime::now_utc()));
}

/// A warning when the key expires within [`KEY_RENEW_WITHIN`].
fn key_expiry(expires_at: Option<OffsetDateTime>, now: OffsetDateTime) -> Check {
    let Some(expires_at) = expires_at else {
        return Check::pass("scim-key-expiry", "the key never expires");
    };
    let left = expires_at - now;
    let message = format!(
        "the key expires at {} ({} days left)",
        crate::output::timestamp(expires_at),
        left.whole_days()
    );
    if left < KEY_RENEW_WITHIN {
        Check::warn(
            "scim-key-expiry",
            message,
            "make a new key (`scimctl keys create --name okta --scope scim:provision \
             --expires 365d`), paste it into the IdP, then revoke this one",
        )
    } else {
        Check::pass("scim-key-expiry", message)
    }
}

/// Settings, default role and allowlist, read with the operator's key.
async fn operator_checks(operator: &Client, ranges: Option<&[IpNet]>, checks: &mut Vec<Check>) {
    match operator.get_settings().await {
        Ok(settings) => {
            toggle_checks(&settings, checks);
            checks.push(default_role_check(operator, &settings).await);
        }
        Err(err) => checks.push(Check::fail(
            "operator-key",
            format!("cannot read the settings: {err}"),
            "run doctor with a key that has settings:manage (and roles:manage, \
             allowlist:manage)",
        )),
    }
    if let Some(ranges) = ranges {
        checks.push(allowlist_check(operator, ranges).await);
    }
}

fn toggle_checks(settings: &Settings, checks: &mut Vec<Check>) {
    checks.push(if settings.auto_provisioning {
        Check::pass("auto-provisioning", "on: users the IdP assigns are created")
    } else {
        Check::fail(
            "auto-provisioning",
            "off: every user the IdP pushes is refused with 403 (the IdP shows \
             \"Forbidden\"); updates to existing users still apply",
            "scimctl provisioning enable",
        )
    });
    checks.push(if settings.auto_deprovisioning {
        Check::pass(
            "auto-deprovisioning",
            "on: users the IdP deactivates or unassigns lose access at once",
        )
    } else {
        Check::warn(
            "auto-deprovisioning",
            "off: users the IdP deactivates keep their access, flagged pending, until an \
             operator runs `scimctl users deprovision`",
            "scimctl deprovisioning enable, or review `scimctl users list --pending` daily",
        )
    });
}

async fn default_role_check(operator: &Client, settings: &Settings) -> Check {
    let role = &settings.default_role;
    if role == "admin" {
        return Check::fail(
            "default-role",
            "admin: every user the IdP pushes would get every permission",
            "scimctl default-role set member",
        );
    }
    match operator.list_roles().await {
        Ok(roles) if roles.iter().any(|r| &r.name == role) => Check::pass(
            "default-role",
            format!("{role}: given to every user the IdP creates"),
        ),
        Ok(_) => Check::fail(
            "default-role",
            format!("{role} does not exist: creating users would fail"),
            "scimctl default-role set member",
        ),
        Err(err) => Check::fail(
            "default-role",
            format!("cannot list the roles: {err}"),
            "run doctor with a key that has roles:manage",
        ),
    }
}

async fn allowlist_check(operator: &Client, ranges: &[IpNet]) -> Check {
    let entries = match operator.list_allowlist().await {
        Ok(entries) => entries,
        Err(err) => {
            return Check::fail(
                "allowlist",
                format!("cannot read the allowlist: {err}"),
                "run doctor with a key that has allowlist:manage",
            );
        }
    };
    if entries.is_empty() {
        return Check::pass(
            "allowlist",
            "empty: every address may connect, the IdP's included",
        );
    }
    let cidrs: Vec<IpNet> = entries.iter().map(|entry| entry.cidr).collect();
    let missing = ranges::uncovered(ranges, &cidrs);
    if missing.is_empty() {
        return Check::pass(
            "allowlist",
            format!("admits all {} of the IdP's ranges", ranges.len()),
        );
    }
    let list: Vec<String> = missing.iter().map(ToString::to_string).collect();
    Check::fail(
        "allowlist",
        format!(
            "does not admit {} of the IdP's {} ranges: {}",
            missing.len(),
            ranges.len(),
            list.join(", ")
        ),
        format!(
            "scimctl allowlist add {} --note \"IdP egress\"",
            list.join(" ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_expiring_within_14_days_is_a_warning() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        assert!(key_expiry(None, now).passed);
        assert!(key_expiry(Some(now + Duration::days(30)), now).passed);
        let soon = key_expiry(Some(now + Duration::days(10)), now);
        assert!(!soon.passed && !soon.fails(), "{soon:?}");
        assert!(soon.message.contains("(10 days left)"), "{soon:?}");
    }
}
