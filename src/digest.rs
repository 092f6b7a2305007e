//! Cache keys for tokens: their SHA-256, so no cache ever holds a token in plain text
//! (RFC 9700 §4.9.3).

use sha2::{Digest, Sha256};

/// The SHA-256 of a token.
pub(crate) type TokenKey = [u8; 32];

pub(crate) fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}
