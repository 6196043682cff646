//! Bearer tokens: API keys (`scimctl_<id>_<secret>`) and user sessions
//! (`scimsess_<id>_<secret>`). The prefix makes a leaked token recognisable
//! and tells the two apart; the id lets the server find the row without
//! scanning; only the SHA-256 of the secret is ever stored.

use std::fmt;

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a token opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    ApiKey,
    Session,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "scimctl_",
            TokenKind::Session => "scimsess_",
        }
    }
}

const ID_LEN: usize = 16;
const SECRET_LEN: usize = 40;

/// A freshly minted token. The only value that ever holds the secret in
/// clear; it is handed to the caller once and dropped.
pub struct NewToken {
    pub id: String,
    pub secret_hash: String,
    token: String,
}

impl NewToken {
    pub fn generate(kind: TokenKind) -> Self {
        let mut rng = rand::rng();
        let id = Alphanumeric
            .sample_string(&mut rng, ID_LEN)
            .to_ascii_lowercase();
        let secret = Alphanumeric.sample_string(&mut rng, SECRET_LEN);
        NewToken {
            secret_hash: hash_secret(&secret),
            token: format!("{}{id}_{secret}", kind.prefix()),
            id,
        }
    }

    /// The full token, to show the caller exactly once.
    pub fn reveal(self) -> String {
        self.token
    }
}

impl fmt::Debug for NewToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A token presented by a client, split into its parts.
pub struct PresentedToken<'a> {
    pub kind: TokenKind,
    pub id: &'a str,
    secret: &'a str,
}

impl<'a> PresentedToken<'a> {
    /// `None` when the text does not have the token's shape at all.
    pub fn parse(text: &'a str) -> Option<Self> {
        let (kind, rest) = [TokenKind::ApiKey, TokenKind::Session]
            .into_iter()
            .find_map(|kind| Some((kind, text.strip_prefix(kind.prefix())?)))?;
        let (id, secret) = rest.split_once('_')?;
        let well_formed = id.len() == ID_LEN
            && secret.len() == SECRET_LEN
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
            && secret.bytes().all(|b| b.is_ascii_alphanumeric());
        well_formed.then_some(PresentedToken { kind, id, secret })
    }

    /// Whether the secret hashes to `stored_hash`, compared in constant time
    /// so the comparison leaks nothing about how much of it matched.
    pub fn matches(&self, stored_hash: &str) -> bool {
        hash_secret(self.secret)
            .as_bytes()
            .ct_eq(stored_hash.as_bytes())
            .into()
    }
}

impl fmt::Debug for PresentedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PresentedToken")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Secrets are 40 random alphanumerics (~238 bits), so a fast hash is
/// enough: there is nothing to brute-force, unlike a password.
fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_and_matches_its_own_hash_only() {
        let new = NewToken::generate(TokenKind::ApiKey);
        let (id, hash) = (new.id.clone(), new.secret_hash.clone());
        let token = new.reveal();
        assert!(token.starts_with("scimctl_"));
        let presented = PresentedToken::parse(&token).expect("well formed");
        assert_eq!(presented.kind, TokenKind::ApiKey);
        assert_eq!(presented.id, id);
        assert!(presented.matches(&hash));
        assert!(!presented.matches(&NewToken::generate(TokenKind::ApiKey).secret_hash));
        assert!(!token.contains(&hash));
    }

    #[test]
    fn session_tokens_are_told_apart_from_keys() {
        let token = NewToken::generate(TokenKind::Session).reveal();
        assert!(token.starts_with("scimsess_"));
        let presented = PresentedToken::parse(&token).expect("well formed");
        assert_eq!(presented.kind, TokenKind::Session);
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for text in [
            "",
            "scimctl_",
            "scimctl_abc_def",
            "Bearer scimctl_x",
            "other_0123456789abcdef_0123456789012345678901234567890123456789",
        ] {
            assert!(PresentedToken::parse(text).is_none(), "{text:?}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let new = NewToken::generate(TokenKind::Session);
        let shown = format!("{new:?}");
        let token = new.reveal();
        let secret = token.rsplit('_').next().expect("secret part");
        assert!(!shown.contains(secret));
    }
}
