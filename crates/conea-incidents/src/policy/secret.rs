//! Secrets of the policy, which never show themselves in `Debug` output or logs: a
//! [`Secret`] string and a [`WebhookSecret`] signing key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt;

/// A secret configuration value (token, key, webhook URL with its embedded key).
/// `Debug` prints `"***"`; use [`Secret::expose`] where the value is really needed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

/// The signing key of a Standard Webhooks endpoint. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// `whsec_` followed by base64 of 24 to 64 random bytes. The error never echoes the
    /// secret.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(b64) = text.trim().strip_prefix("whsec_") else {
            return Err("must start with `whsec_` followed by base64".into());
        };
        let key = STANDARD
            .decode(b64)
            .map_err(|_| "the part after `whsec_` is not valid base64".to_string())?;
        if !(24..=64).contains(&key.len()) {
            return Err(format!(
                "decodes to {} bytes; use 24 to 64 random bytes",
                key.len()
            ));
        }
        Ok(Self(key))
    }

    /// A secret from raw key bytes (e.g. freshly generated).
    pub fn from_bytes(key: Vec<u8>) -> Self {
        Self(key)
    }

    /// The `whsec_…` text form.
    pub fn to_text(&self) -> String {
        format!("whsec_{}", STANDARD.encode(&self.0))
    }

    /// The raw key bytes (the HMAC key of a signature).
    pub(crate) fn key(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_value() {
        let s = Secret::new("xoxb-very-secret");
        assert_eq!(format!("{s:?}"), "\"***\"");
        assert_eq!(s.expose(), "xoxb-very-secret");
    }
}
