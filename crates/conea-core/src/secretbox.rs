//! Third-party secrets at rest (Shopify access tokens and API secrets): ChaCha20-Poly1305
//! with a random 96-bit nonce per value, under a key derived from `CONEA_SECRET_KEY` with
//! SHA-256. Each value is bound to a context (such as `shopify.access_token:shop_…`) as
//! associated data, so a ciphertext copied into another column or row does not decrypt.
//!
//! Stored form: `v1:` + base64(nonce ‖ ciphertext ‖ tag).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;

/// A stored value that does not decrypt: altered, from another context, or under another key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored secret could not be decrypted ({0}); was CONEA_SECRET_KEY changed?")]
pub struct SecretBoxError(&'static str);

/// Encrypts and decrypts secrets with the process's key. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The box of `secret_key` (any length; the configuration requires 32+ characters).
    pub fn new(secret_key: &str) -> Self {
        let mut h = Sha256::new();
        h.update(b"conea secretbox v1\0");
        h.update(secret_key.as_bytes());
        let key = h.finalize();
        SecretBox {
            cipher: ChaCha20Poly1305::new(&key),
        }
    }

    /// Seals `plaintext` for `context`, with a fresh random nonce.
    pub fn encrypt(&self, context: &str, plaintext: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: context.as_bytes(),
        };
        // Encryption only fails for messages longer than 256 GiB.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    /// Opens a value sealed by [`encrypt`](Self::encrypt) for the same context and key.
    pub fn decrypt(&self, context: &str, sealed: &str) -> Result<String, SecretBoxError> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or(SecretBoxError("unknown format"))?;
        let raw = STANDARD
            .decode(body)
            .map_err(|_| SecretBoxError("not base64"))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(SecretBoxError("too short"));
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SecretBoxError("authentication failed"))?;
        String::from_utf8(plain).map_err(|_| SecretBoxError("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "test-secret-key-0123456789abcdef0123456789";

    #[test]
    fn round_trips_and_uses_a_fresh_nonce_per_value() {
        let b = SecretBox::new(KEY);
        let a = b.encrypt("ctx", "shpat_secret");
        let a2 = b.encrypt("ctx", "shpat_secret");
        assert_ne!(a, a2, "same plaintext, different ciphertexts");
        assert!(!a.contains("shpat_secret"));
        assert_eq!(b.decrypt("ctx", &a).unwrap(), "shpat_secret");
        assert_eq!(b.decrypt("ctx", &a2).unwrap(), "shpat_secret");
        assert_eq!(b.decrypt("ctx", &b.encrypt("ctx", "")).unwrap(), "");
    }

    #[test]
    fn a_tampered_value_does_not_decrypt() {
        let b = SecretBox::new(KEY);
        let sealed = b.encrypt("ctx", "shpat_secret");
        let mut raw = STANDARD.decode(&sealed[PREFIX.len()..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("{PREFIX}{}", STANDARD.encode(&raw));
        assert!(b.decrypt("ctx", &tampered).is_err());
        raw[last] ^= 1;
        raw[NONCE_LEN] ^= 0x80;
        let tampered = format!("{PREFIX}{}", STANDARD.encode(&raw));
        assert!(b.decrypt("ctx", &tampered).is_err());
        assert!(b.decrypt("ctx", "v1:short").is_err());
        assert!(b.decrypt("ctx", "plaintext").is_err());
    }

    #[test]
    fn another_key_or_context_does_not_decrypt() {
        let sealed = SecretBox::new(KEY).encrypt("shopify.access_token:shop_1", "shpat_secret");
        let other = SecretBox::new("another-secret-key-0123456789abcdef01234");
        assert!(other
            .decrypt("shopify.access_token:shop_1", &sealed)
            .is_err());
        let same = SecretBox::new(KEY);
        assert!(same.decrypt("shopify.api_secret:shop_1", &sealed).is_err());
        assert!(same
            .decrypt("shopify.access_token:shop_2", &sealed)
            .is_err());
    }

    #[test]
    fn debug_output_hides_the_key() {
        assert_eq!(format!("{:?}", SecretBox::new(KEY)), "SecretBox(..)");
    }
}
