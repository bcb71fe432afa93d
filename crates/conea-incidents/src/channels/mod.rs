//! Notification payloads, one module per wire format. Builders are pure: they take an
//! [`IncidentMessage`] (what every channel says about an incident) and a [`Notice`] (what
//! happened), and return the exact body to send. The HTTP sending lives with the caller
//! (the server's shared HTTP plumbing); only e-mail has a thin `send` here, over lettre.
//!
//! Length limits of each service are applied here (Slack header 150 characters, PagerDuty
//! summary 1024, Jira summary 255), always on character boundaries.

pub mod email;
pub mod jira;
pub mod pagerduty;
pub mod slack;
pub mod webhook;

use crate::severity::Severity;
use conea_core::clock::EpochMs;
use serde::{Deserialize, Serialize};

/// What every channel says about one incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentMessage {
    pub incident_id: String,
    pub title: String,
    pub severity: Severity,
    /// Free text (may be empty); for Alertmanager incidents, the alert's description.
    pub summary: String,
    pub opened_at: EpochMs,
    /// The responder of the severity (`on_call_sre`, `platform_team`, ...).
    pub responder: String,
    /// Where the incident came from (`alertmanager`, `api`, a host name).
    pub source: String,
    /// PagerDuty `dedup_key`: the Alertmanager fingerprint, or the incident id.
    pub dedup_key: String,
    pub links: Links,
}

/// Absolute URLs the notifications point at. The acknowledge/resolve links carry a
/// [`crate::signed_link`] token; they should open a confirmation page (GET) whose button
/// performs the action (POST), because chat apps and mail scanners prefetch links.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    pub timeline: String,
    pub acknowledge: Option<String>,
    pub resolve: Option<String>,
}

/// What happened, i.e. why this notification is sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// The incident was opened: tell the responder.
    Opened,
    /// Not acknowledged in time: `role` (`On-call SRE (primary)`, `SRE Lead`) is paged.
    Escalated {
        role: String,
        contact: String,
    },
    /// Unresolved in time: the incident commander is summoned.
    CommanderSummoned {
        name: String,
        contact: Option<String>,
    },
    /// Stakeholders are told that a critical incident is being handled.
    StakeholderUpdate,
    Acknowledged {
        by: String,
        at: EpochMs,
    },
    Resolved {
        by: String,
        at: EpochMs,
    },
}

impl Notice {
    /// Whether acknowledge/resolve buttons still make sense.
    fn is_open(&self) -> bool {
        !matches!(self, Notice::Acknowledged { .. } | Notice::Resolved { .. })
    }
}

/// `[CRITICAL] title` on one line.
pub fn headline(m: &IncidentMessage) -> String {
    one_line(&format!(
        "[{}] {}",
        m.severity.as_str().to_ascii_uppercase(),
        m.title
    ))
}

/// Newlines and tabs become spaces; runs of spaces collapse.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// At most `max` characters; a cut string ends with `…`.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    /// 2026-06-03T01:00:00Z, a Wednesday (10:00 in Tokyo).
    pub const OPENED: EpochMs = 1_780_448_400_000;

    pub fn message(severity: Severity) -> IncidentMessage {
        IncidentMessage {
            incident_id: "inc_01".into(),
            title: "Checkout API down".into(),
            severity,
            summary: "5xx rate above 50% for 5 minutes".into(),
            opened_at: OPENED,
            responder: "on_call_sre".into(),
            source: "alertmanager".into(),
            dedup_key: "1a30ba71cca2921f".into(),
            links: Links {
                timeline: "https://conea.example/incidents/inc_01".into(),
                acknowledge: Some("https://conea.example/l/ack-token".into()),
                resolve: Some("https://conea.example/l/resolve-token".into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_cuts_on_character_boundaries_with_an_ellipsis() {
        assert_eq!(truncate("障害が発生しました", 4), "障害が…");
        assert_eq!(truncate("short", 10), "short");
    }

    #[test]
    fn headline_is_one_line_with_the_upper_case_severity() {
        let mut m = fixtures::message(Severity::High);
        m.title = "Queue\nbacklog\tgrowing".into();
        assert_eq!(headline(&m), "[HIGH] Queue backlog growing");
    }

    #[test]
    fn fixture_opened_time_is_the_documented_instant() {
        assert_eq!(
            conea_core::clock::rfc3339(fixtures::OPENED),
            "2026-06-03T01:00:00Z"
        );
    }
}
