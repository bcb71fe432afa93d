//! Signed action links: `…/incident-links/{token}` lets someone acknowledge or resolve an
//! incident from a notification without logging in.
//!
//! A token is `v1.<base64url(claims JSON)>.<base64url(HMAC-SHA256)>`; the MAC covers
//! `conea.incident-link.v1.` + the claims part, keyed by a secret of at least 32 bytes that
//! the caller owns (a dedicated server secret, not an API key). Claims: incident id,
//! action, expiry (epoch ms) and a 128-bit random nonce.
//!
//! **Single use is the caller's job**: after [`LinkSigner::verify`] succeeds, insert the
//! nonce (with its `expires_at`) into a table with a unique constraint in the same
//! transaction as the action; a conflict means the link was already used. Rows can be
//! pruned once `expires_at` has passed, because an expired token fails verification anyway.
//! Serve a confirmation page on GET and act on POST: chat apps and mail scanners prefetch
//! links.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use conea_core::clock::EpochMs;
use hmac::Mac;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

const PREFIX: &str = "v1";
const DOMAIN: &[u8] = b"conea.incident-link.v1.";
/// Minimum key length in bytes.
pub const MIN_KEY_LEN: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    Acknowledge,
    Resolve,
}

impl fmt::Display for LinkAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkAction::Acknowledge => "acknowledge",
            LinkAction::Resolve => "resolve",
        })
    }
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub incident_id: String,
    pub action: LinkAction,
    pub expires_at: EpochMs,
    /// Random, base64url; the caller records it to make the link single-use.
    pub nonce: String,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRejection {
    #[error("the link is malformed")]
    Malformed,
    #[error("the link's signature does not match (tampered or signed with another key)")]
    Tampered,
    #[error("the link expired at {expired_at} (epoch ms)")]
    Expired { expired_at: EpochMs },
    #[error("the link is for `{found}`, not `{expected}`")]
    WrongAction {
        expected: LinkAction,
        found: LinkAction,
    },
    #[error("the link is for another incident")]
    WrongIncident,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the link signing key must be at least {MIN_KEY_LEN} bytes, got {0}")]
pub struct KeyTooShort(pub usize);

/// Issues and verifies tokens with one key. `Debug` hides the key.
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSigner(***)")
    }
}

impl LinkSigner {
    pub fn new(key: &[u8]) -> Result<Self, KeyTooShort> {
        if key.len() < MIN_KEY_LEN {
            return Err(KeyTooShort(key.len()));
        }
        Ok(Self { key: key.to_vec() })
    }

    /// A token for `action` on `incident_id`, valid for `ttl` from `now`, with a fresh
    /// random nonce.
    pub fn issue(
        &self,
        incident_id: &str,
        action: LinkAction,
        now: EpochMs,
        ttl: Duration,
    ) -> String {
        let mut nonce = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.issue_claims(&LinkClaims {
            incident_id: incident_id.to_string(),
            action,
            expires_at: now.saturating_add(ttl_ms),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
        })
    }

    /// A token for exactly these claims (tests, or a caller with its own nonce source).
    pub fn issue_claims(&self, claims: &LinkClaims) -> String {
        // Serialising a struct of strings and integers cannot fail.
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let body = URL_SAFE_NO_PAD.encode(json);
        let mac = self.mac(&body);
        format!("{PREFIX}.{body}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    /// Checks signature, then expiry (`now >= expires_at` is expired), then action and
    /// (when given) incident id. The caller then enforces single use with the nonce.
    pub fn verify(
        &self,
        token: &str,
        expected: LinkAction,
        incident_id: Option<&str>,
        now: EpochMs,
    ) -> Result<LinkClaims, LinkRejection> {
        let mut parts = token.trim().split('.');
        let (Some(PREFIX), Some(body), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LinkRejection::Malformed);
        };
        let sig = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| LinkRejection::Malformed)?;
        let mut mac = crate::hmac_sha256(&self.key);
        mac.update(DOMAIN);
        mac.update(body.as_bytes());
        mac.verify_slice(&sig)
            .map_err(|_| LinkRejection::Tampered)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| LinkRejection::Malformed)?;
        let claims: LinkClaims =
            serde_json::from_slice(&json).map_err(|_| LinkRejection::Malformed)?;
        if now >= claims.expires_at {
            return Err(LinkRejection::Expired {
                expired_at: claims.expires_at,
            });
        }
        if claims.action != expected {
            return Err(LinkRejection::WrongAction {
                expected,
                found: claims.action,
            });
        }
        if incident_id.is_some_and(|id| id != claims.incident_id) {
            return Err(LinkRejection::WrongIncident);
        }
        Ok(claims)
    }

    fn mac(&self, body: &str) -> Vec<u8> {
        let mut mac = crate::hmac_sha256(&self.key);
        mac.update(DOMAIN);
        mac.update(body.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_core::clock::{Clock, FakeClock};

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const HOUR: Duration = Duration::from_secs(3600);

    fn signer() -> LinkSigner {
        LinkSigner::new(KEY).expect("32-byte key")
    }

    #[test]
    fn issued_token_verifies_and_returns_its_claims() {
        let clock = FakeClock::new(1_780_448_400_000);
        let token = signer().issue("inc_01", LinkAction::Acknowledge, clock.now_ms(), HOUR);
        clock.advance(Duration::from_secs(600));
        let claims = signer()
            .verify(
                &token,
                LinkAction::Acknowledge,
                Some("inc_01"),
                clock.now_ms(),
            )
            .expect("valid");
        assert_eq!(claims.incident_id, "inc_01");
        assert_eq!(claims.action, LinkAction::Acknowledge);
        assert_eq!(claims.expires_at, 1_780_448_400_000 + 3_600_000);
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&claims.nonce).expect("b64").len(),
            16
        );
    }

    #[test]
    fn each_issue_gets_a_fresh_nonce() {
        let a = signer().issue("inc_01", LinkAction::Resolve, 0, HOUR);
        let b = signer().issue("inc_01", LinkAction::Resolve, 0, HOUR);
        assert_ne!(a, b);
    }

    #[test]
    fn changed_claims_are_reported_as_tampered() {
        let s = signer();
        let token = s.issue_claims(&LinkClaims {
            incident_id: "inc_01".into(),
            action: LinkAction::Acknowledge,
            expires_at: 10_000,
            nonce: "n".into(),
        });
        let forged_body = URL_SAFE_NO_PAD.encode(
            br#"{"incident_id":"inc_01","action":"resolve","expires_at":10000,"nonce":"n"}"#,
        );
        let sig = token.rsplit('.').next().expect("sig");
        let forged = format!("v1.{forged_body}.{sig}");
        assert_eq!(
            s.verify(&forged, LinkAction::Resolve, None, 0),
            Err(LinkRejection::Tampered)
        );
        let other_key = LinkSigner::new(&[7u8; 32]).expect("key");
        assert_eq!(
            other_key.verify(&token, LinkAction::Acknowledge, None, 0),
            Err(LinkRejection::Tampered)
        );
    }

    #[test]
    fn token_is_expired_at_and_after_its_expiry() {
        let clock = FakeClock::new(1_000);
        let token = signer().issue("inc_01", LinkAction::Acknowledge, clock.now_ms(), HOUR);
        clock.advance(HOUR);
        assert_eq!(
            signer().verify(&token, LinkAction::Acknowledge, None, clock.now_ms()),
            Err(LinkRejection::Expired {
                expired_at: 1_000 + 3_600_000
            })
        );
    }

    #[test]
    fn acknowledge_link_cannot_resolve() {
        let token = signer().issue("inc_01", LinkAction::Acknowledge, 0, HOUR);
        assert_eq!(
            signer().verify(&token, LinkAction::Resolve, None, 1),
            Err(LinkRejection::WrongAction {
                expected: LinkAction::Resolve,
                found: LinkAction::Acknowledge
            })
        );
    }

    #[test]
    fn link_for_one_incident_is_refused_for_another() {
        let token = signer().issue("inc_01", LinkAction::Resolve, 0, HOUR);
        assert_eq!(
            signer().verify(&token, LinkAction::Resolve, Some("inc_02"), 1),
            Err(LinkRejection::WrongIncident)
        );
    }

    #[test]
    fn garbage_is_malformed_and_short_keys_are_refused() {
        for bad in ["", "v1", "v1.a", "v2.a.b", "v1.a.b.c", "v1.abc.%%%"] {
            assert_eq!(
                signer().verify(bad, LinkAction::Resolve, None, 0),
                Err(LinkRejection::Malformed),
                "{bad}"
            );
        }
        assert_eq!(LinkSigner::new(b"short").unwrap_err(), KeyTooShort(5));
        assert_eq!(format!("{:?}", signer()), "LinkSigner(***)");
    }
}
