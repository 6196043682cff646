//! `doctor`'s look at an https server's certificate: the leaf's validity
//! dates read from its DER (rustls has already verified the chain and the
//! name by the time there is a certificate to read), and what they mean.

use time::{Duration, OffsetDateTime};

use crate::output::doctor::Check;

pub const NAME: &str = "tls-certificate";

/// A certificate expiring sooner than this is a warning: time to renew
/// before the IdP's calls start failing.
pub const RENEW_WITHIN: Duration = Duration::days(14);

/// The leaf certificate's subject and validity window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validity {
    pub subject: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

/// Reads the validity of a DER certificate.
pub fn read(der: &[u8]) -> Result<Validity, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|err| format!("the server's certificate cannot be read ({err})"))?;
    let validity = cert.validity();
    Ok(Validity {
        subject: cert.subject().to_string(),
        not_before: validity.not_before.to_datetime(),
        not_after: validity.not_after.to_datetime(),
    })
}

/// The check for a certificate valid from `not_before` to `not_after`, at
/// `now`: a failure outside that window, a warning within
/// [`RENEW_WITHIN`] of its end.
pub fn judge(validity: &Validity, now: OffsetDateTime) -> Check {
    let renew = "renew the certificate (and install it where TLS ends: the server or its \
                 load balancer) before it expires; IdPs stop provisioning the moment it does";
    if now < validity.not_before {
        return Check::fail(
            NAME,
            format!(
                "{} is not valid before {}",
                validity.subject,
                crate::output::timestamp(validity.not_before)
            ),
            "check the clock of this machine and of the server, or install a current certificate",
        );
    }
    let left = validity.not_after - now;
    let until = crate::output::timestamp(validity.not_after);
    if left <= Duration::ZERO {
        return Check::fail(
            NAME,
            format!("{} expired at {until}", validity.subject),
            renew,
        );
    }
    let days = left.whole_days();
    let message = format!(
        "{} valid until {until} ({days} days left)",
        validity.subject
    );
    if left < RENEW_WITHIN {
        Check::warn(NAME, message, renew)
    } else {
        Check::pass(NAME, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validity(days_left: i64) -> Validity {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        Validity {
            subject: "CN=scim.example.com".to_owned(),
            not_before: now - Duration::days(90),
            not_after: now + Duration::days(days_left),
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(1000)
    }

    #[test]
    fn expiry_fails_renewal_due_warns_and_otherwise_passes() {
        let ok = judge(&validity(60), now());
        assert!(ok.passed, "{ok:?}");
        assert!(ok.message.contains("(60 days left)"), "{ok:?}");
        let soon = judge(&validity(10), now());
        assert!(!soon.passed && !soon.fails(), "a warning: {soon:?}");
        let expired = judge(&validity(-1), now());
        assert!(
            expired.fails() && expired.message.contains("expired at"),
            "{expired:?}"
        );
        let mut early = validity(60);
        early.not_before = now() + Duration::days(1);
        assert!(judge(&early, now()).fails());
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        assert!(read(b"not a certificate").is_err());
    }
}
