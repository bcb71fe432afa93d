//! A schedule as stored: what to run (report and parameters), when (cron in a time zone),
//! where to deliver, and its firing and delivery state.

use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, OrgId, ScheduleId};
use conea_shopdata::analytics::{RawParams, Report};
use serde::{Deserialize, Serialize};

/// What a schedule runs: an analytics report of `GET /v1/analytics/{report}`, or the
/// insights digest (the period's key figures against the previous period, anomalies and a
/// narrative written by the model; see `conea_insights::digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleReport {
    Analytics(Report),
    Digest,
}

impl ScheduleReport {
    pub const DIGEST: &'static str = "digest";

    pub fn as_str(self) -> &'static str {
        match self {
            ScheduleReport::Analytics(r) => r.as_str(),
            ScheduleReport::Digest => Self::DIGEST,
        }
    }

    pub fn parse(text: &str) -> Option<ScheduleReport> {
        if text == Self::DIGEST {
            return Some(ScheduleReport::Digest);
        }
        Report::parse(text).map(ScheduleReport::Analytics)
    }

    /// Every name a schedule takes: the analytics reports, then `digest`.
    pub fn names() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Report::ALL.iter().map(|r| r.as_str()).collect();
        names.push(Self::DIGEST);
        names
    }
}

/// The language a schedule's digest narrative (and its notes) are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Language {
    #[default]
    En,
    Ja,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Ja];

    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ja => "ja",
        }
    }

    pub fn parse(text: &str) -> Option<Language> {
        Language::ALL.into_iter().find(|l| l.as_str() == text)
    }
}

/// Where a report goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// `target` is an e-mail address; sent over the escalation policy's SMTP server.
    Email,
    /// `target` is a Slack incoming-webhook URL.
    Slack,
    /// `target` is a URL; the POST is signed per Standard Webhooks with the schedule's secret.
    Webhook,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Email, Channel::Slack, Channel::Webhook];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Slack => "slack",
            Channel::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub channel: Channel,
    pub target: String,
}

/// A target as answers show it: a Slack incoming-webhook URL is a credential (whoever has
/// it can post to the channel), so only its scheme, host and first path segment are shown
/// (`https://hooks.slack.com/services/…`); e-mail addresses and webhook URLs as they are.
pub fn shown_target(channel: Channel, target: &str) -> String {
    if channel != Channel::Slack {
        return target.to_string();
    }
    match url::Url::parse(target) {
        Ok(u) => {
            let first = u
                .path_segments()
                .and_then(|mut s| s.next())
                .unwrap_or_default();
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!(
                "{}://{}{port}/{first}/…",
                u.scheme(),
                u.host_str().unwrap_or_default()
            )
        }
        Err(_) => "…".into(),
    }
}

/// The outcome of the latest attempt on one destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    pub channel: Channel,
    pub target: String,
    /// `delivered`, `failed` (will be retried) or `gave_up`.
    pub status: String,
    pub error: Option<String>,
    pub attempt: u32,
    pub at: EpochMs,
}

/// The latest run of a schedule (a slot fired, or a run-now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunState {
    pub job_id: String,
    /// The slot it ran for; `None` for a run-now.
    pub slot: Option<EpochMs>,
    pub at: EpochMs,
    /// `running`, `delivered`, `failed` (a retry is due) or `gave_up`.
    pub status: String,
    pub error: Option<String>,
    pub deliveries: Vec<DeliveryStatus>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub id: ScheduleId,
    pub org_id: OrgId,
    pub report: ScheduleReport,
    pub params: RawParams,
    /// `en` or `ja`: the digest's language.
    pub language: Language,
    pub cron: String,
    pub timezone: String,
    pub deliver: Vec<Destination>,
    pub enabled: bool,
    /// The Standard Webhooks signing secret, sealed (`SecretBox`, bound to the schedule).
    pub webhook_secret_sealed: String,
    pub created_at: EpochMs,
    pub updated_at: EpochMs,
    /// The next slot to fire (`None` when disabled or the expression never matches again).
    pub next_slot_at: Option<EpochMs>,
    /// The latest slot a run was enqueued for.
    pub last_slot_at: Option<EpochMs>,
    /// Slots not run because a later one was due too (downtime): only the latest runs.
    pub skipped_slots: i64,
    pub last_skipped_slot_at: Option<EpochMs>,
    pub last_run: Option<RunState>,
}

/// One firing: the slot that runs, the slots it skips, and what comes next. Applied only
/// if the schedule's `next_slot_at` is still `expected` (another replica did not fire it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    pub schedule: ScheduleId,
    pub expected: EpochMs,
    pub slot: EpochMs,
    pub skipped: i64,
    pub last_skipped: Option<EpochMs>,
    pub next: Option<EpochMs>,
    pub job_id: JobId,
}

/// The SecretBox context a schedule's webhook secret is sealed under.
pub fn secret_context(id: &ScheduleId) -> String {
    format!("schedule-webhook-secret:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slack_url_is_shown_without_its_secret_path() {
        assert_eq!(
            shown_target(
                Channel::Slack,
                "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
            ),
            "https://hooks.slack.com/services/…"
        );
        assert_eq!(
            shown_target(Channel::Webhook, "https://erp.example/hook?k=1"),
            "https://erp.example/hook?k=1"
        );
    }
}
