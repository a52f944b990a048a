//! API keys: `ags_<32 hex>_<6 hex>`, shown once, stored only as a SHA-256 hash.
//!
//! The key carries 128 random bits, so a fast hash is the right tool (argon2 is for passwords,
//! which have little entropy). The stored hash is looked up by value and then compared in
//! constant time with [`hashes_equal`].

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Ingest and read.
    Write,
    /// Read only.
    Read,
}

impl Role {
    /// The stored and printed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Write => "write",
            Role::Read => "read",
        }
    }

    /// Parses `write` or `read`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "write" => Some(Role::Write),
            "read" => Some(Role::Read),
            _ => None,
        }
    }
}

/// A freshly generated key: the secret (shown once) and what is stored.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The full key, `ags_<32 hex>_<6 hex>`.
    pub secret: String,
    /// A non-secret prefix to tell keys apart in listings (`ags_1a2b3c4d…`).
    pub prefix: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
}

/// Generates a key from the OS random source.
pub fn generate() -> NewKey {
    let mut rng = rand::rng();
    let mut body = [0u8; 16];
    let mut tail = [0u8; 3];
    rng.fill_bytes(&mut body);
    rng.fill_bytes(&mut tail);
    let secret = format!("ags_{}_{}", hex::encode(body), hex::encode(tail));
    NewKey { prefix: secret[..12].to_string(), hash: hash(&secret), secret }
}

/// True when `s` has the SDK's key format (`^ags_[a-f0-9]{32}_[a-f0-9]{6}$`, any case).
pub fn is_well_formed(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 4 + 32 + 1 + 6
        && s[..4].eq_ignore_ascii_case("ags_")
        && b[36] == b'_'
        && b[4..36].iter().chain(&b[37..]).all(u8::is_ascii_hexdigit)
}

/// SHA-256 of a key as presented (lower-cased, since the SDK accepts either case).
pub fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.trim().to_ascii_lowercase().as_bytes()).into()
}

/// Compares two hashes in constant time.
pub fn hashes_equal(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_the_sdk_format_and_differ() {
        let a = generate();
        let b = generate();
        assert!(is_well_formed(&a.secret), "{}", a.secret);
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
        assert!(a.secret.starts_with(&a.prefix));
    }

    #[test]
    fn malformed_keys_are_recognised() {
        assert!(is_well_formed("ags_1a2b3c4d5e6f7890abcdef1234567890_a1b2c3"));
        assert!(is_well_formed("AGS_1A2B3C4D5E6F7890ABCDEF1234567890_A1B2C3"));
        assert!(!is_well_formed("ags_1a2b3c4d5e6f7890abcdef1234567890_a1b2c"));
        assert!(!is_well_formed("ags_1a2b3c4d5e6f7890abcdef123456789g_a1b2c3"));
        assert!(!is_well_formed("Bearer x"));
    }

    #[test]
    fn hashing_ignores_case_and_surrounding_space() {
        let k = "ags_1a2b3c4d5e6f7890abcdef1234567890_a1b2c3";
        assert!(hashes_equal(&hash(k), &hash(&format!("{}\n", k.to_uppercase()))));
        assert!(!hashes_equal(&hash(k), &hash("ags_00000000000000000000000000000000_000000")));
    }
}
