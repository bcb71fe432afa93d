//! PagerDuty Events API v2 (`POST {events_url}`, JSON): `trigger`, `acknowledge` and
//! `resolve` events correlated by `dedup_key`. Severity mapping: critical→critical,
//! high→error, medium→warning, low→info.

use super::{headline, truncate, IncidentMessage};
use conea_core::clock::rfc3339;
use serde_json::{json, Value};

const SUMMARY_MAX: usize = 1024;
const DEDUP_KEY_MAX: usize = 255;

/// The `trigger` event that opens (or updates) the PagerDuty alert for the incident.
pub fn trigger(routing_key: &str, m: &IncidentMessage) -> Value {
    json!({
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key(&m.dedup_key),
        "payload": {
            "summary": truncate(&headline(m), SUMMARY_MAX),
            "source": m.source,
            "severity": m.severity.pagerduty(),
            "timestamp": rfc3339(m.opened_at),
            "custom_details": {
                "incident_id": m.incident_id,
                "responder": m.responder,
                "summary": m.summary,
            },
        },
        "client": "Conea",
        "client_url": m.links.timeline,
        "links": [{"href": m.links.timeline, "text": "Incident timeline"}],
    })
}

/// The `acknowledge` event for an incident's alert.
pub fn acknowledge(routing_key: &str, dedup: &str) -> Value {
    status_event(routing_key, "acknowledge", dedup)
}

/// The `resolve` event for an incident's alert.
pub fn resolve(routing_key: &str, dedup: &str) -> Value {
    status_event(routing_key, "resolve", dedup)
}

fn status_event(routing_key: &str, action: &str, dedup: &str) -> Value {
    json!({
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": dedup_key(dedup),
    })
}

/// PagerDuty accepts at most 255 characters; longer keys are cut (no ellipsis, so the cut
/// key stays the same on every event).
pub fn dedup_key(key: &str) -> String {
    key.chars().take(DEDUP_KEY_MAX).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::fixtures::message;
    use crate::severity::Severity;

    #[test]
    fn trigger_event_matches_the_events_v2_shape() {
        let m = message(Severity::Critical);
        assert_eq!(
            trigger("R0UTINGKEY", &m),
            json!({
                "routing_key": "R0UTINGKEY",
                "event_action": "trigger",
                "dedup_key": "1a30ba71cca2921f",
                "payload": {
                    "summary": "[CRITICAL] Checkout API down",
                    "source": "alertmanager",
                    "severity": "critical",
                    "timestamp": "2026-06-03T01:00:00Z",
                    "custom_details": {
                        "incident_id": "inc_01",
                        "responder": "on_call_sre",
                        "summary": "5xx rate above 50% for 5 minutes"
                    }
                },
                "client": "Conea",
                "client_url": "https://conea.example/incidents/inc_01",
                "links": [{"href": "https://conea.example/incidents/inc_01", "text": "Incident timeline"}]
            })
        );
    }

    #[test]
    fn severities_map_to_pagerduty_levels() {
        for (sev, pd) in [
            (Severity::Critical, "critical"),
            (Severity::High, "error"),
            (Severity::Medium, "warning"),
            (Severity::Low, "info"),
        ] {
            assert_eq!(trigger("k", &message(sev))["payload"]["severity"], pd);
        }
    }

    #[test]
    fn acknowledge_and_resolve_carry_only_key_action_and_dedup_key() {
        assert_eq!(
            acknowledge("R0UTINGKEY", "1a30ba71cca2921f"),
            json!({"routing_key": "R0UTINGKEY", "event_action": "acknowledge", "dedup_key": "1a30ba71cca2921f"})
        );
        assert_eq!(
            resolve("R0UTINGKEY", "1a30ba71cca2921f"),
            json!({"routing_key": "R0UTINGKEY", "event_action": "resolve", "dedup_key": "1a30ba71cca2921f"})
        );
    }

    #[test]
    fn long_dedup_keys_are_cut_to_255_characters_consistently() {
        let long = "k".repeat(300);
        assert_eq!(dedup_key(&long).len(), 255);
        assert_eq!(resolve("r", &long)["dedup_key"], dedup_key(&long));
    }
}
