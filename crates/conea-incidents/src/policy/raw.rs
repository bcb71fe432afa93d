//! The policy file as written (YAML), before validation. Every field is optional so that a
//! file only needs to say what differs from the defaults; unknown keys are errors.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub business_hours: Option<RawBusinessHours>,
    #[serde(default)]
    pub severities: BTreeMap<String, RawSeverity>,
    pub contacts: Option<RawContacts>,
    pub channels: Option<RawChannels>,
    pub alertmanager: Option<RawAlertmanager>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBusinessHours {
    pub timezone: Option<String>,
    pub days: Option<Vec<String>>,
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeverity {
    pub definition: Option<String>,
    pub responder: Option<String>,
    pub notify: Option<Vec<String>>,
    pub escalate_if_unacknowledged_after: Option<DurationText>,
    pub escalate_if_unresolved_after: Option<DurationText>,
    pub escalation_interval: Option<DurationText>,
    pub page_on_call: Option<bool>,
    pub business_hours_only: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContacts {
    pub on_call_sre: Option<RawOnCall>,
    pub incident_commander: Option<RawCommander>,
    pub escalation_chain: Option<Vec<RawChainContact>>,
    pub teams: Option<BTreeMap<String, RawTeam>>,
    pub stakeholders: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOnCall {
    pub primary: Option<String>,
    pub secondary: Option<String>,
    pub slack: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCommander {
    pub name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub slack: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChainContact {
    pub role: Option<String>,
    pub contact: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub slack: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChannels {
    pub slack: Option<RawSlack>,
    pub pagerduty: Option<RawPagerDuty>,
    pub email: Option<RawEmail>,
    pub jira: Option<RawJira>,
    pub webhook: Option<RawWebhook>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlack {
    pub webhook_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPagerDuty {
    pub routing_key: Option<String>,
    pub events_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEmail {
    pub smtp_url: Option<String>,
    pub from: Option<String>,
    pub to: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJira {
    pub base_url: Option<String>,
    pub email: Option<String>,
    pub api_token: Option<String>,
    pub project_key: Option<String>,
    pub issue_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    pub url: Option<String>,
    pub secret: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlertmanager {
    pub severity_label: Option<String>,
    pub severities: Option<BTreeMap<String, String>>,
    pub unmapped: Option<String>,
}

/// A duration as written: `30m`, `2h`, `0s`, a bare number of seconds, or `never`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationText(pub String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 0s, 30m or 2h, or `never`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}
