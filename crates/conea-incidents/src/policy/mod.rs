//! The escalation policy: who is told what, on which channels, and when it escalates.
//!
//! Loaded from the YAML file named by `CONEA_ESCALATION_CONFIG` (the server's config
//! loader owns that setting and calls [`Policy::load`]); without a file the engine runs on
//! [`Policy::default`], the operations guide's matrix with no channels. A file only needs
//! to say what differs: each severity, contact section and channel it names is merged over
//! the default. Validation reports every problem at once, each with its key path
//! (`severities.high.notify[1]: unknown channel ...`), and a few [`Policy::warnings`] for
//! valid but suspicious settings (a `notify` channel that is not configured).
//!
//! Every endpoint is a key of its channel (`channels.pagerduty.events_url` has a default,
//! the others are required), so tests and staging can point any channel at a fake.

mod defaults;
mod describe;
mod raw;
pub mod secret;
pub mod smtp;
mod validate;

pub use secret::{Secret, WebhookSecret};
pub use smtp::SmtpSettings;

use crate::alertmanager::SeverityMap;
use crate::business_hours::BusinessHours;
use crate::severity::Severity;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;
use url::Url;

/// The built-in responder that `page_on_call` pages (`contacts.on_call_sre`).
pub const ON_CALL_SRE: &str = "on_call_sre";
/// The built-in responder for the incident commander (`contacts.incident_commander`).
pub const INCIDENT_COMMANDER: &str = "incident_commander";
/// PagerDuty's Events API v2 endpoint, the default of `channels.pagerduty.events_url`.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Interval between escalation steps when `escalate_if_unacknowledged_after` is `0s`
/// and no `escalation_interval` is given.
pub const DEFAULT_ESCALATION_INTERVAL: Duration = Duration::from_secs(5 * 60);

/// A validated policy. Every severity is present.
#[derive(Debug, Clone)]
pub struct Policy {
    pub business_hours: BusinessHours,
    pub severities: BTreeMap<Severity, SeverityPolicy>,
    pub contacts: Contacts,
    pub channels: Channels,
    pub alertmanager: SeverityMap,
    warnings: Vec<Problem>,
}

/// One row of the escalation matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityPolicy {
    pub definition: String,
    /// `on_call_sre`, `incident_commander` or a key of `contacts.teams`.
    pub responder: String,
    pub notify: Vec<ChannelKind>,
    /// `None`: this severity never escalates for lack of an acknowledgement.
    pub escalate_if_unacknowledged_after: Option<Duration>,
    /// `None`: no commander / war room / stakeholder steps.
    pub escalate_if_unresolved_after: Option<Duration>,
    /// Time between two escalation steps (secondary after primary, chain step after chain
    /// step). Defaults to `escalate_if_unacknowledged_after`, or 5m when that is zero.
    pub escalation_interval: Duration,
    /// Escalation pages the on-call primary, then the secondary, before the chain.
    /// Defaults to `responder == on_call_sre`.
    pub page_on_call: bool,
    /// Steps wait for business hours.
    pub business_hours_only: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contacts {
    pub on_call_sre: OnCall,
    pub incident_commander: Option<Commander>,
    pub escalation_chain: Vec<ChainContact>,
    /// Responder teams by name (`platform_team`, `dev_team`, `support_team` by default).
    pub teams: BTreeMap<String, Team>,
    /// Who the `stakeholders` step informs (addresses or handles; free text).
    pub stakeholders: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OnCall {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    pub slack: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commander {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub slack: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainContact {
    pub role: String,
    pub contact: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Team {
    pub slack: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// The notification channels. `None`: not configured (its steps are recorded as skipped).
#[derive(Debug, Clone, Default)]
pub struct Channels {
    pub slack: Option<SlackChannel>,
    pub pagerduty: Option<PagerDutyChannel>,
    pub email: Option<EmailChannel>,
    pub jira: Option<JiraChannel>,
    pub webhook: Option<WebhookChannel>,
}

impl Channels {
    pub fn is_configured(&self, kind: ChannelKind) -> bool {
        match kind {
            ChannelKind::Slack => self.slack.is_some(),
            ChannelKind::PagerDuty => self.pagerduty.is_some(),
            ChannelKind::Email => self.email.is_some(),
            ChannelKind::Jira => self.jira.is_some(),
            ChannelKind::Webhook => self.webhook.is_some(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SlackChannel {
    /// The incoming-webhook URL carries its own credential, hence secret.
    pub webhook_url: Secret,
}

#[derive(Debug, Clone)]
pub struct PagerDutyChannel {
    pub routing_key: Secret,
    pub events_url: Url,
}

#[derive(Debug, Clone)]
pub struct EmailChannel {
    pub smtp: SmtpSettings,
    pub from: Mailbox,
    pub to: Vec<Mailbox>,
}

#[derive(Debug, Clone)]
pub struct JiraChannel {
    pub base_url: Url,
    pub email: String,
    pub api_token: Secret,
    pub project_key: String,
    pub issue_type: String,
}

#[derive(Debug, Clone)]
pub struct WebhookChannel {
    pub url: Url,
    pub secret: WebhookSecret,
}

/// The channel kinds a severity can `notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    #[serde(rename = "pagerduty")]
    PagerDuty,
    Slack,
    Email,
    Jira,
    Webhook,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 5] = [
        ChannelKind::PagerDuty,
        ChannelKind::Slack,
        ChannelKind::Email,
        ChannelKind::Jira,
        ChannelKind::Webhook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::PagerDuty => "pagerduty",
            ChannelKind::Slack => "slack",
            ChannelKind::Email => "email",
            ChannelKind::Jira => "jira",
            ChannelKind::Webhook => "webhook",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ChannelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                format!("unknown channel `{s}` (use pagerduty, slack, email, jira or webhook)")
            })
    }
}

/// One problem (or warning) in the policy, with the key path it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a policy could not be loaded: every problem found, one per line in `Display`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    /// The file the policy came from, when there was one.
    pub source_name: Option<String>,
    pub problems: Vec<Problem>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source_name {
            Some(name) => writeln!(f, "escalation policy {name} is invalid:")?,
            None => writeln!(f, "escalation policy is invalid:")?,
        }
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl Default for Policy {
    /// The operations guide's matrix (Asia/Tokyo business hours), no contacts, no channels.
    fn default() -> Self {
        let mut policy = Policy {
            business_hours: BusinessHours::tokyo_office(),
            severities: defaults::severities(),
            contacts: defaults::contacts(),
            channels: Channels::default(),
            alertmanager: SeverityMap::default(),
            warnings: Vec::new(),
        };
        policy.warnings = validate::warnings(&policy);
        policy
    }
}

impl Policy {
    /// Parses and validates a policy file's text.
    pub fn from_yaml(text: &str) -> Result<Self, PolicyError> {
        let raw = parse_raw(text).map_err(|p| PolicyError {
            source_name: None,
            problems: vec![p],
        })?;
        validate::build(raw).map_err(|problems| PolicyError {
            source_name: None,
            problems,
        })
    }

    /// Reads `path` (or returns the default without one). Errors name the file.
    pub fn load(path: Option<&Path>) -> Result<Self, PolicyError> {
        let Some(path) = path else {
            return Ok(Policy::default());
        };
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            source_name: Some(name.clone()),
            problems: vec![Problem::new("", format!("cannot read the file: {e}"))],
        })?;
        Self::from_yaml(&text).map_err(|mut e| {
            e.source_name = Some(name);
            e
        })
    }

    /// The row of the matrix for `severity`.
    pub fn severity(&self, severity: Severity) -> &SeverityPolicy {
        // `build` and `default` fill every severity; the fallback is never used.
        self.severities
            .get(&severity)
            .unwrap_or_else(|| defaults::fallback_row())
    }

    /// Valid but suspicious settings, for `conea incidents check-config` and the start log.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }
}

fn parse_raw(text: &str) -> Result<raw::RawPolicy, Problem> {
    if text.trim().is_empty() {
        return Ok(raw::RawPolicy::default());
    }
    let de = yaml_serde::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { String::new() } else { path };
        Problem::new(path, e.into_inner().to_string())
    })
}

#[cfg(test)]
mod tests;
