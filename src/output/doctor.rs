//! How `doctor` looks in the CLI: one line per check, ✓ or ✗ (`ok` or
//! `FAIL` without a terminal or with NO_COLOR), the fix under a failure.
//! The JSON is the list of [`Check`]s, documented in
//! `docs/troubleshooting.md`.

use std::io::{self, Write};

use serde::Serialize;

use super::{Show, Style};

/// How a failed check counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The connection will not work (or not safely): exit 5.
    Error,
    /// Worth acting on before it bites (a key expiring soon): shown, but
    /// the exit status stays 0.
    Warning,
}

/// One check: `doctor -o json` prints a list of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier: `server`, `operator-key`, `scim-key`,
    /// `scim-key-expiry`, `allowlist`, `auto-provisioning`,
    /// `auto-deprovisioning`, `default-role`, `okta-connection-test`,
    /// `entra-connection-test`, `tls-certificate`.
    pub name: &'static str,
    pub passed: bool,
    pub severity: Severity,
    /// What was found, in words.
    pub message: String,
    /// What to do, when it did not pass.
    pub fix: Option<String>,
}

impl Check {
    pub fn pass(name: &'static str, message: impl Into<String>) -> Self {
        Check {
            name,
            passed: true,
            severity: Severity::Error,
            message: message.into(),
            fix: None,
        }
    }

    pub fn fail(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name,
            passed: false,
            severity: Severity::Error,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn warn(name: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            severity: Severity::Warning,
            ..Check::fail(name, message, fix)
        }
    }

    /// Whether this check makes `doctor` exit 5.
    pub fn fails(&self) -> bool {
        !self.passed && self.severity == Severity::Error
    }

    /// The mark in front of the line: symbols on a terminal, words where
    /// they may not render or are grepped (a pipe, NO_COLOR).
    fn mark(&self, style: Style) -> &'static str {
        match (self.passed, self.severity, style.color) {
            (true, _, true) => "✓",
            (false, Severity::Error, true) => "✗",
            (false, Severity::Warning, true) => "!",
            (true, _, false) => "ok  ",
            (false, Severity::Error, false) => "FAIL",
            (false, Severity::Warning, false) => "WARN",
        }
    }
}

/// Every check `doctor` ran, in order.
#[derive(Debug, Default)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

impl DoctorReport {
    pub fn any_failed(&self) -> bool {
        self.checks.iter().any(Check::fails)
    }
}

impl Serialize for DoctorReport {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.checks.serialize(serializer)
    }
}

impl Show for DoctorReport {
    fn write_table(&self, out: &mut dyn Write, style: Style) -> io::Result<()> {
        let width = self
            .checks
            .iter()
            .map(|check| check.name.len())
            .max()
            .unwrap_or(0);
        for check in &self.checks {
            let mark = check.mark(style);
            writeln!(out, "{mark} {:width$}  {}", check.name, check.message)?;
            if let Some(fix) = check.fix.as_deref().filter(|_| !check.passed) {
                // Under the message, so the eye goes from what to what to do.
                let indent = mark.chars().count() + 1 + width + 2;
                writeln!(out, "{:indent$}fix: {fix}", "")?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{render, render_with};
    use crate::output::{Format, Output};

    fn report() -> DoctorReport {
        DoctorReport {
            checks: vec![
                Check::pass("server", "scimctl 1.0 answers"),
                Check::fail("default-role", "admin", "scimctl default-role set member"),
                Check::warn("scim-key-expiry", "expires in 3 days", "make a new key"),
            ],
        }
    }

    #[test]
    fn a_line_per_check_with_the_fix_under_a_failure() {
        let plain = render(Output::one(report()), Format::Table);
        assert_eq!(
            plain,
            "ok   server           scimctl 1.0 answers\n\
             FAIL default-role     admin\n\
             \x20                     fix: scimctl default-role set member\n\
             WARN scim-key-expiry  expires in 3 days\n\
             \x20                     fix: make a new key\n"
        );
        let color = render_with(
            &Output::one(report()),
            Format::Table,
            Style {
                color: true,
                tty: true,
            },
        );
        assert!(color.starts_with("✓ server"), "{color}");
        assert!(color.contains("✗ default-role"), "{color}");
        assert!(color.contains("! scim-key-expiry"), "{color}");
    }

    #[test]
    fn json_is_the_list_of_checks_and_warnings_do_not_fail() {
        let json: serde_json::Value =
            serde_json::from_str(&render(Output::one(report()), Format::Json)).expect("json");
        assert_eq!(
            json[2],
            serde_json::json!({
                "name": "scim-key-expiry",
                "passed": false,
                "severity": "warning",
                "message": "expires in 3 days",
                "fix": "make a new key",
            })
        );
        assert!(report().any_failed());
        let warned = DoctorReport {
            checks: vec![Check::warn("scim-key-expiry", "soon", "renew")],
        };
        assert!(!warned.any_failed());
    }
}
