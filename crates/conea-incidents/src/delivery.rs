//! Sending the payloads [`crate::channels`] builds: Slack incoming webhooks, PagerDuty
//! Events v2, Jira Cloud create issue, a Standard-Webhooks-signed webhook (all over
//! reqwest), and e-mail over SMTP (lettre). Every URL comes from the policy, so tests point
//! them at local fakes.

use crate::channels::{email, jira, pagerduty, slack, webhook, IncidentMessage, Notice};
use crate::policy::{ChannelKind, Policy};
use async_trait::async_trait;
use conea_core::clock::EpochMs;
use std::time::Duration;

/// One delivery: a message about an incident on one channel.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub channel: ChannelKind,
    pub message: &'a IncidentMessage,
    pub notice: &'a Notice,
    /// The war-room message (Slack only) instead of the plain notification.
    pub war_room: bool,
    /// Stable per (incident, step, channel): the webhook message id and e-mail Message-ID.
    pub unique_key: &'a str,
    pub now: EpochMs,
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct DeliveryError {
    pub message: String,
    pub retryable: bool,
}

impl DeliveryError {
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Something that sends deliveries (the HTTP/SMTP sender, or a test double).
#[async_trait]
pub trait Deliver: Send + Sync + 'static {
    /// Sends; `Ok` carries a short description of the receipt (HTTP status, issue key).
    async fn deliver(&self, policy: &Policy, d: &Delivery<'_>) -> Result<String, DeliveryError>;
}

/// Real delivery over the network.
pub struct HttpDeliver {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpDeliver {
    pub fn new(timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .user_agent(concat!("conea/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(HttpDeliver { client, timeout })
    }

    async fn post(
        &self,
        url: &str,
        body: &serde_json::Value,
        headers: &[(&str, String)],
    ) -> Result<String, DeliveryError> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.post_bytes(url, bytes, headers).await
    }

    /// POSTs a JSON body with extra headers; 2xx is `Ok("HTTP nnn")`, 408/429/5xx and
    /// network failures are retryable, other answers permanent. Report schedules send
    /// through it too.
    pub async fn post_bytes(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<String, DeliveryError> {
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.map_err(|e| {
            DeliveryError::retryable(format!("request failed: {}", e.without_url()))
        })?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let snippet: String = text.chars().take(200).collect();
        if status.is_success() {
            return Ok(format!("HTTP {}", status.as_u16()));
        }
        let message = format!("HTTP {}: {}", status.as_u16(), snippet.trim());
        // 408, 429 and 5xx may pass; other 4xx are configuration or payload errors.
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            Err(DeliveryError::retryable(message))
        } else {
            Err(DeliveryError::permanent(message))
        }
    }
}

fn not_configured(c: ChannelKind) -> DeliveryError {
    DeliveryError::permanent(format!("the {c} channel is not configured"))
}

#[async_trait]
impl Deliver for HttpDeliver {
    async fn deliver(&self, policy: &Policy, d: &Delivery<'_>) -> Result<String, DeliveryError> {
        let ch = &policy.channels;
        let m = d.message;
        match d.channel {
            ChannelKind::Slack => {
                let s = ch.slack.as_ref().ok_or_else(|| not_configured(d.channel))?;
                let body = if d.war_room {
                    let row = policy.severity(m.severity);
                    let after = row.escalate_if_unresolved_after.unwrap_or_default();
                    slack::war_room(m, policy.contacts.incident_commander.as_ref(), after)
                } else {
                    slack::message(m, d.notice)
                };
                self.post(s.webhook_url.expose(), &body, &[]).await
            }
            ChannelKind::PagerDuty => {
                let p = ch
                    .pagerduty
                    .as_ref()
                    .ok_or_else(|| not_configured(d.channel))?;
                let key = p.routing_key.expose();
                let body = match d.notice {
                    Notice::Acknowledged { .. } => pagerduty::acknowledge(key, &m.dedup_key),
                    Notice::Resolved { .. } => pagerduty::resolve(key, &m.dedup_key),
                    _ => pagerduty::trigger(key, m),
                };
                self.post(p.events_url.as_str(), &body, &[]).await
            }
            ChannelKind::Jira => {
                let j = ch.jira.as_ref().ok_or_else(|| not_configured(d.channel))?;
                let url = jira::create_issue_url(&j.base_url)
                    .map_err(|e| DeliveryError::permanent(format!("Jira URL: {e}")))?;
                let body = jira::create_issue(&j.project_key, &j.issue_type, m);
                let auth = jira::authorization(&j.email, j.api_token.expose());
                self.post(url.as_str(), &body, &[("authorization", auth)])
                    .await
            }
            ChannelKind::Webhook => {
                let w = ch
                    .webhook
                    .as_ref()
                    .ok_or_else(|| not_configured(d.channel))?;
                let body = webhook::event_body(m, d.notice, d.now);
                let bytes = serde_json::to_vec(&body).unwrap_or_default();
                let id = webhook::message_id(d.unique_key);
                let ts = d.now.div_euclid(1000);
                let headers = webhook::headers(&w.secret, &id, ts, &bytes);
                let hs: Vec<(&str, String)> = headers.into_iter().collect();
                self.post_bytes(w.url.as_str(), bytes, &hs).await
            }
            ChannelKind::Email => {
                let e = ch.email.as_ref().ok_or_else(|| not_configured(d.channel))?;
                let content = email::content(m, d.notice);
                let id = webhook::message_id(d.unique_key);
                let msg = email::build_message(&e.from, &e.to, &content, d.now, &id)
                    .map_err(|err| DeliveryError::permanent(err.to_string()))?;
                email::send(&e.smtp, msg, self.timeout)
                    .await
                    .map_err(|err| match err {
                        email::EmailError::Smtp(s) if s.is_permanent() => {
                            DeliveryError::permanent(format!("SMTP: {s}"))
                        }
                        other => DeliveryError::retryable(other.to_string()),
                    })?;
                Ok(format!("sent to {} recipient(s)", e.to.len()))
            }
        }
    }
}
