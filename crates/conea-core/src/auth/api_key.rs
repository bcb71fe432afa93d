//! API keys: `conea_` followed by 40 base62 characters from the OS random source. Only the
//! SHA-256 digest and a short display prefix are ever stored.

use rand::rngs::OsRng;
use rand::Rng;
use sha2::{Digest, Sha256};

pub const KEY_PREFIX: &str = "conea_";
const RANDOM_LEN: usize = 40;
const DISPLAY_RANDOM_CHARS: usize = 6;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly generated key: the secret is shown once, then only `digest` and `prefix` remain.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub secret: String,
    pub digest: String,
    pub prefix: String,
}

pub fn generate() -> NewApiKey {
    let mut rng = OsRng;
    let random: String = (0..RANDOM_LEN)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect();
    from_secret(format!("{KEY_PREFIX}{random}"))
}

/// Builds the stored parts of a given secret (used for `CONEA_BOOTSTRAP_KEY`).
pub fn from_secret(secret: String) -> NewApiKey {
    NewApiKey {
        digest: digest(&secret),
        prefix: display_prefix(&secret),
        secret,
    }
}

/// True when `text` has the shape of a Conea API key (not whether it exists).
pub fn looks_like_key(text: &str) -> bool {
    text.strip_prefix(KEY_PREFIX)
        .is_some_and(|r| r.len() >= 32 && r.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Lowercase hex SHA-256 of the whole key.
pub fn digest(secret: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in d {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 0x0f) as usize] as char);
    }
    out
}

fn display_prefix(secret: &str) -> String {
    secret
        .chars()
        .take(KEY_PREFIX.len() + DISPLAY_RANDOM_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_documented_shape_and_digest_matches() {
        let k = generate();
        assert!(looks_like_key(&k.secret));
        assert_eq!(k.secret.len(), KEY_PREFIX.len() + RANDOM_LEN);
        assert_eq!(k.digest, digest(&k.secret));
        assert_eq!(k.prefix.len(), 12);
        assert!(k.secret.starts_with(&k.prefix));
        assert_ne!(generate().secret, k.secret);
    }

    #[test]
    fn digest_is_sha256_hex() {
        // echo -n abc | sha256sum
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn short_or_foreign_strings_are_not_keys() {
        assert!(!looks_like_key("conea_short"));
        assert!(!looks_like_key(
            "sk-0123456789012345678901234567890123456789"
        ));
        assert!(!looks_like_key(
            "conea_0123456789012345678901234567890123456789!"
        ));
    }
}
