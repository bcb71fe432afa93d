//! A generic webhook signed as Standard Webhooks specifies: headers `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64>`, where the
//! signature is HMAC-SHA256 over `"{id}.{timestamp}.{body}"` keyed by the base64-decoded
//! part of a `whsec_…` secret. The id must stay the same across retries of one message
//! (receivers deduplicate by it): derive it with [`message_id`] from the step's job key.

use super::{IncidentMessage, Notice};
pub use crate::policy::secret::WebhookSecret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use conea_core::clock::{rfc3339, EpochMs};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac: HmacSha256 = crate::hmac_sha256(secret.key());
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The three headers to send with `body` (plus `content-type: application/json`).
pub fn headers(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> [(&'static str, String); 3] {
    [
        ("webhook-id", msg_id.to_string()),
        ("webhook-timestamp", timestamp_secs.to_string()),
        (
            "webhook-signature",
            sign(secret, msg_id, timestamp_secs, body),
        ),
    ]
}

/// Why a received webhook does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("webhook-timestamp is not a number")]
    BadTimestamp,
    #[error("webhook-timestamp is {0} s away from now, more than the tolerance")]
    OutsideTolerance(i64),
    #[error("no v1 signature matches")]
    NoMatch,
}

/// Verifies a delivery (for receivers and tests): the timestamp within `tolerance_secs`
/// of `now_secs`, and one of the space-separated `v1,` signatures matching, compared in
/// constant time.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: &str,
    timestamp: &str,
    signature_header: &str,
    body: &[u8],
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = (now_secs - ts).abs();
    if skew > tolerance_secs {
        return Err(VerifyError::OutsideTolerance(skew));
    }
    for candidate in signature_header.split_whitespace() {
        let Some(b64) = candidate.strip_prefix("v1,") else {
            continue;
        };
        let Ok(expected) = STANDARD.decode(b64) else {
            continue;
        };
        let mut mac: HmacSha256 = crate::hmac_sha256(secret.key());
        mac.update(format!("{msg_id}.{ts}.").as_bytes());
        mac.update(body);
        if mac.verify_slice(&expected).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::NoMatch)
}

/// A stable message id for one (incident, step): `msg_` + 32 hex characters of
/// SHA-256 over the job's unique key. Retries of the step reuse it.
pub fn message_id(unique_key: &str) -> String {
    let digest = Sha256::digest(unique_key.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

/// The event body: `{"type", "timestamp", "data"}` as Standard Webhooks recommends.
pub fn event_body(m: &IncidentMessage, notice: &Notice, at: EpochMs) -> Value {
    let kind = match notice {
        Notice::Opened => "incident.opened",
        Notice::Escalated { .. } => "incident.escalated",
        Notice::CommanderSummoned { .. } => "incident.commander_summoned",
        Notice::StakeholderUpdate => "incident.stakeholder_update",
        Notice::Acknowledged { .. } => "incident.acknowledged",
        Notice::Resolved { .. } => "incident.resolved",
    };
    json!({
        "type": kind,
        "timestamp": rfc3339(at),
        "data": {
            "incident_id": m.incident_id,
            "title": m.title,
            "severity": m.severity,
            "summary": m.summary,
            "opened_at": rfc3339(m.opened_at),
            "responder": m.responder,
            "source": m.source,
            "dedup_key": m.dedup_key,
            "links": m.links,
            "notice": notice,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::fixtures::{message, OPENED};
    use crate::severity::Severity;

    // The reference vector of the Standard Webhooks test suite.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn secret() -> WebhookSecret {
        WebhookSecret::parse(SECRET).expect("reference secret")
    }

    #[test]
    fn signature_matches_the_standard_webhooks_reference_vector() {
        assert_eq!(
            sign(&secret(), MSG_ID, TIMESTAMP, BODY.as_bytes()),
            SIGNATURE
        );
    }

    #[test]
    fn headers_are_id_timestamp_and_signature() {
        let h = headers(&secret(), MSG_ID, TIMESTAMP, BODY.as_bytes());
        assert_eq!(
            h,
            [
                ("webhook-id", MSG_ID.to_string()),
                ("webhook-timestamp", "1614265330".to_string()),
                ("webhook-signature", SIGNATURE.to_string()),
            ]
        );
    }

    #[test]
    fn verify_accepts_the_reference_and_rejects_tampering_and_old_timestamps() {
        let s = secret();
        let ok = verify(
            &s,
            MSG_ID,
            "1614265330",
            SIGNATURE,
            BODY.as_bytes(),
            TIMESTAMP + 10,
            300,
        );
        assert_eq!(ok, Ok(()));
        let multi = format!("v1,AAAA {SIGNATURE}");
        assert_eq!(
            verify(
                &s,
                MSG_ID,
                "1614265330",
                &multi,
                BODY.as_bytes(),
                TIMESTAMP,
                300
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                &s,
                MSG_ID,
                "1614265330",
                SIGNATURE,
                br#"{"test": 2432232315}"#,
                TIMESTAMP,
                300
            ),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(
                &s,
                MSG_ID,
                "1614265330",
                SIGNATURE,
                BODY.as_bytes(),
                TIMESTAMP + 301,
                300
            ),
            Err(VerifyError::OutsideTolerance(301))
        );
    }

    #[test]
    fn secrets_need_the_prefix_valid_base64_and_enough_bytes() {
        assert!(WebhookSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap_err()
            .contains("whsec_"));
        assert!(WebhookSecret::parse("whsec_!!!")
            .unwrap_err()
            .contains("base64"));
        assert!(WebhookSecret::parse("whsec_c2hvcnQ=")
            .unwrap_err()
            .contains("5 bytes"));
        assert_eq!(secret().to_text(), SECRET);
        assert_eq!(format!("{:?}", secret()), "WebhookSecret(***)");
    }

    #[test]
    fn message_id_is_stable_per_step_and_prefixed() {
        let a = message_id("incident:inc_01:notify:webhook");
        assert_eq!(a, message_id("incident:inc_01:notify:webhook"));
        assert_ne!(a, message_id("incident:inc_01:chain:1"));
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
    }

    #[test]
    fn event_body_has_type_timestamp_and_incident_data() {
        let m = message(Severity::High);
        let v = event_body(&m, &Notice::Opened, OPENED);
        assert_eq!(v["type"], "incident.opened");
        assert_eq!(v["timestamp"], "2026-06-03T01:00:00Z");
        assert_eq!(v["data"]["severity"], "high");
        assert_eq!(v["data"]["notice"], json!({"kind": "opened"}));
        assert_eq!(
            v["data"]["links"]["timeline"],
            "https://conea.example/incidents/inc_01"
        );
    }
}
