//! The defaults: the escalation matrix of the operations guide (エスカレーション手順).

use super::{ChannelKind, Contacts, SeverityPolicy, Team, DEFAULT_ESCALATION_INTERVAL};
use crate::severity::Severity;
use std::collections::BTreeMap;
use std::time::Duration;

const MINUTE: u64 = 60;

pub(super) fn severity(severity: Severity) -> SeverityPolicy {
    match severity {
        Severity::Critical => SeverityPolicy {
            definition: "Whole service down".into(),
            responder: "on_call_sre".into(),
            notify: vec![ChannelKind::PagerDuty, ChannelKind::Slack],
            escalate_if_unacknowledged_after: Some(Duration::ZERO),
            escalate_if_unresolved_after: Some(Duration::from_secs(15 * MINUTE)),
            escalation_interval: DEFAULT_ESCALATION_INTERVAL,
            page_on_call: true,
            business_hours_only: false,
        },
        Severity::High => SeverityPolicy {
            definition: "Major feature failure".into(),
            responder: "platform_team".into(),
            notify: vec![ChannelKind::Slack, ChannelKind::Email],
            escalate_if_unacknowledged_after: Some(Duration::from_secs(30 * MINUTE)),
            escalate_if_unresolved_after: None,
            escalation_interval: Duration::from_secs(30 * MINUTE),
            page_on_call: false,
            business_hours_only: false,
        },
        Severity::Medium => SeverityPolicy {
            definition: "Partial malfunction".into(),
            responder: "dev_team".into(),
            notify: vec![ChannelKind::Slack],
            escalate_if_unacknowledged_after: Some(Duration::from_secs(120 * MINUTE)),
            escalate_if_unresolved_after: None,
            escalation_interval: Duration::from_secs(120 * MINUTE),
            page_on_call: false,
            business_hours_only: false,
        },
        Severity::Low => SeverityPolicy {
            definition: "UX problem".into(),
            responder: "support_team".into(),
            notify: vec![ChannelKind::Jira],
            escalate_if_unacknowledged_after: None,
            escalate_if_unresolved_after: None,
            escalation_interval: DEFAULT_ESCALATION_INTERVAL,
            page_on_call: false,
            business_hours_only: true,
        },
    }
}

pub(super) fn severities() -> BTreeMap<Severity, SeverityPolicy> {
    Severity::ALL
        .into_iter()
        .map(|s| (s, severity(s)))
        .collect()
}

/// No people: the guide's contact list is an example, not something to page by default.
/// The three responder teams of the matrix exist, without addresses.
pub(super) fn contacts() -> Contacts {
    Contacts {
        teams: ["platform_team", "dev_team", "support_team"]
            .into_iter()
            .map(|t| (t.to_string(), Team::default()))
            .collect(),
        ..Contacts::default()
    }
}

static FALLBACK: SeverityPolicy = SeverityPolicy {
    definition: String::new(),
    responder: String::new(),
    notify: Vec::new(),
    escalate_if_unacknowledged_after: None,
    escalate_if_unresolved_after: None,
    escalation_interval: DEFAULT_ESCALATION_INTERVAL,
    page_on_call: false,
    business_hours_only: false,
};

pub(super) fn fallback_row() -> &'static SeverityPolicy {
    &FALLBACK
}
