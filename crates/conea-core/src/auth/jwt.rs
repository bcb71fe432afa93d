//! JWTs issued to users at login. The algorithm is pinned by configuration (HS256 by
//! default): the header's `alg` is checked against the allowed list before anything else, so
//! `alg: none` and algorithm switching are refused with their own code. `exp` is required;
//! `exp`, `nbf` and `iat` are checked against the injected clock with a leeway.

use super::AuthFailure;
use crate::clock::EpochMs;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// The user id (`usr_…`).
    pub sub: String,
    /// The organization the token acts in (`org_…`).
    pub org: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    pub jti: String,
}

#[derive(Clone)]
pub struct JwtSettings {
    pub secret: Vec<u8>,
    pub algorithms: Vec<Algorithm>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub ttl: Duration,
    pub leeway: Duration,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("secret", &"<redacted>")
            .field("algorithms", &self.algorithms)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Parses an algorithm name of the HMAC family (the only family a shared secret can sign).
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "HS256" => Some(Algorithm::HS256),
        "HS384" => Some(Algorithm::HS384),
        "HS512" => Some(Algorithm::HS512),
        _ => None,
    }
}

pub fn algorithm_name(alg: Algorithm) -> String {
    format!("{alg:?}")
}

/// A token issued now, with its claims.
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

pub fn issue(
    settings: &JwtSettings,
    user_id: &str,
    org_id: &str,
    now_ms: EpochMs,
    ttl: Option<Duration>,
) -> Result<Issued, String> {
    let now_s = now_ms.div_euclid(1000);
    let ttl = ttl.unwrap_or(settings.ttl);
    let claims = Claims {
        sub: user_id.to_owned(),
        org: org_id.to_owned(),
        iat: now_s,
        nbf: Some(now_s),
        exp: now_s + ttl.as_secs() as i64,
        iss: settings.issuer.clone(),
        aud: settings.audience.clone(),
        jti: uuid::Uuid::now_v7().simple().to_string(),
    };
    let alg = settings
        .algorithms
        .first()
        .copied()
        .unwrap_or(Algorithm::HS256);
    let token = jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(&settings.secret),
    )
    .map_err(|e| e.to_string())?;
    Ok(Issued { token, claims })
}

/// True when the text has the three dot-separated parts of a compact JWS.
pub fn looks_like_jwt(text: &str) -> bool {
    text.split('.').count() == 3 && text.starts_with("ey")
}

/// Decodes the header and claims without verifying anything (for `conea token inspect`).
pub fn decode_unverified(token: &str) -> Result<(serde_json::Value, serde_json::Value), String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("a JWT has three parts separated by dots".into());
    };
    let part = |name: &str, text: &str| -> Result<serde_json::Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| format!("the {name} is not base64url"))?;
        serde_json::from_slice(&bytes).map_err(|_| format!("the {name} is not JSON"))
    };
    Ok((part("header", h)?, part("payload", p)?))
}

/// The header's `alg`, read without trusting the token (only the header is decoded).
fn header_alg(token: &str) -> Result<String, AuthFailure> {
    let malformed = |reason: &str| AuthFailure::MalformedToken {
        reason: reason.into(),
    };
    let mut parts = token.split('.');
    let (Some(h), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("a JWT has three parts separated by dots"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(h.trim_end_matches('='))
        .map_err(|_| malformed("the header is not base64url"))?;
    #[derive(Deserialize)]
    struct Header {
        alg: Option<String>,
    }
    let header: Header =
        serde_json::from_slice(&bytes).map_err(|_| malformed("the header is not JSON"))?;
    header
        .alg
        .ok_or_else(|| malformed("the header has no `alg`"))
}

/// Whether verified claims are valid at `now_ms`: not expired, not before `nbf`/`iat`, both
/// with the configured leeway. (A token verified once is re-checked with this alone.)
pub fn check_times(
    settings: &JwtSettings,
    claims: &Claims,
    now_ms: EpochMs,
) -> Result<(), AuthFailure> {
    let leeway_ms = settings.leeway.as_millis() as i64;
    let exp_ms = claims.exp.saturating_mul(1000);
    if now_ms > exp_ms.saturating_add(leeway_ms) {
        return Err(AuthFailure::TokenExpired {
            expired_at: exp_ms,
            now: now_ms,
        });
    }
    let not_before_ms = claims
        .nbf
        .unwrap_or(claims.iat)
        .max(claims.iat)
        .saturating_mul(1000);
    if now_ms.saturating_add(leeway_ms) < not_before_ms {
        return Err(AuthFailure::TokenNotYetValid {
            valid_from: not_before_ms,
            now: now_ms,
        });
    }
    Ok(())
}

/// Verifies a token and returns its claims, or the precise reason it is refused.
pub fn verify(settings: &JwtSettings, token: &str, now_ms: EpochMs) -> Result<Claims, AuthFailure> {
    let malformed = |reason: String| AuthFailure::MalformedToken { reason };
    let alg_name = header_alg(token)?;
    let allowed = || {
        settings
            .algorithms
            .iter()
            .map(|a| algorithm_name(*a))
            .collect::<Vec<_>>()
    };
    let alg = match parse_algorithm(&alg_name) {
        Some(a) if settings.algorithms.contains(&a) => a,
        _ => {
            return Err(AuthFailure::AlgorithmNotAllowed {
                alg: alg_name,
                allowed: allowed(),
            })
        }
    };
    let mut validation = Validation::new(alg);
    validation.algorithms = vec![alg];
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(&settings.secret),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => AuthFailure::InvalidSignature,
        jsonwebtoken::errors::ErrorKind::InvalidAlgorithm => AuthFailure::AlgorithmNotAllowed {
            alg: alg_name.clone(),
            allowed: allowed(),
        },
        jsonwebtoken::errors::ErrorKind::Json(err) => {
            malformed(format!("the claims are not Conea's ({err})"))
        }
        other => malformed(format!("{other:?}")),
    })?;
    let claims = data.claims;
    check_times(settings, &claims, now_ms)?;
    if let Some(expected) = &settings.issuer {
        if claims.iss.as_deref() != Some(expected.as_str()) {
            return Err(AuthFailure::InvalidIssuer {
                expected: expected.clone(),
            });
        }
    }
    if let Some(expected) = &settings.audience {
        if claims.aud.as_deref() != Some(expected.as_str()) {
            return Err(AuthFailure::InvalidAudience {
                expected: expected.clone(),
            });
        }
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> JwtSettings {
        JwtSettings {
            secret: b"0123456789abcdef0123456789abcdef".to_vec(),
            algorithms: vec![Algorithm::HS256],
            issuer: Some("conea".into()),
            audience: Some("conea-api".into()),
            ttl: Duration::from_secs(3600),
            leeway: Duration::from_secs(60),
        }
    }

    const NOW: EpochMs = 1_795_860_000_000;

    #[test]
    fn issued_token_verifies_until_expiry_plus_leeway() {
        let s = settings();
        let t = issue(&s, "usr_x", "org_y", NOW, None).expect("issue");
        assert_eq!(verify(&s, &t.token, NOW).expect("valid").sub, "usr_x");
        assert!(verify(&s, &t.token, NOW + 3_600_000 + 60_000).is_ok());
        let err = verify(&s, &t.token, NOW + 3_600_000 + 60_001).expect_err("expired");
        assert_eq!(err.code(), "token_expired");
        assert!(
            err.message().contains("2026-11-28T11:00:00Z"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn token_from_the_future_is_not_yet_valid() {
        let s = settings();
        let t = issue(&s, "usr_x", "org_y", NOW + 120_000, None).expect("issue");
        let err = verify(&s, &t.token, NOW).expect_err("future");
        assert_eq!(err.code(), "token_not_yet_valid");
        assert!(err.message().contains("clock"));
    }

    #[test]
    fn other_algorithm_and_none_are_refused_by_name() {
        let s = settings();
        let mut s512 = settings();
        s512.algorithms = vec![Algorithm::HS512];
        let t = issue(&s512, "usr_x", "org_y", NOW, None).expect("issue");
        assert_eq!(
            verify(&s, &t.token, NOW).expect_err("alg").code(),
            "algorithm_not_allowed"
        );
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = t.token.split('.').nth(1).expect("payload");
        let none = format!("{header}.{payload}.");
        assert_eq!(
            verify(&s, &none, NOW).expect_err("none").code(),
            "algorithm_not_allowed"
        );
    }

    #[test]
    fn tampered_payload_fails_signature() {
        let s = settings();
        let t = issue(&s, "usr_x", "org_y", NOW, None).expect("issue");
        let parts: Vec<&str> = t.token.split('.').collect();
        let mut claims = t.claims.clone();
        claims.org = "org_other".into();
        let forged = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("json"));
        let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
        assert_eq!(
            verify(&s, &tampered, NOW).expect_err("sig").code(),
            "invalid_signature"
        );
    }

    #[test]
    fn wrong_issuer_and_audience_have_their_own_codes() {
        let s = settings();
        let mut other = settings();
        other.issuer = Some("someone-else".into());
        let t = issue(&other, "usr_x", "org_y", NOW, None).expect("issue");
        assert_eq!(
            verify(&s, &t.token, NOW).expect_err("iss").code(),
            "invalid_issuer"
        );
        let mut other = settings();
        other.audience = Some("another-api".into());
        let t = issue(&other, "usr_x", "org_y", NOW, None).expect("issue");
        assert_eq!(
            verify(&s, &t.token, NOW).expect_err("aud").code(),
            "invalid_audience"
        );
    }

    #[test]
    fn token_without_exp_is_malformed() {
        let s = settings();
        let claims =
            serde_json::json!({"sub": "usr_x", "org": "org_y", "iat": NOW / 1000, "jti": "j"});
        let t = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(&s.secret),
        )
        .expect("encode");
        let err = verify(&s, &t, NOW).expect_err("no exp");
        assert_eq!(err.code(), "malformed_token");
        assert!(err.message().contains("exp"), "{}", err.message());
    }

    #[test]
    fn garbage_is_malformed() {
        let s = settings();
        assert_eq!(
            verify(&s, "abc.def", NOW).expect_err("bad").code(),
            "malformed_token"
        );
        assert_eq!(
            verify(&s, "eyJ.x.y", NOW).expect_err("bad").code(),
            "malformed_token"
        );
    }
}
