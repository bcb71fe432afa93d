//! Sending a rendered report to one destination, over the incident channels' code: Slack
//! and webhooks through `conea_incidents::delivery::HttpDeliver` (same timeouts, same
//! retryable/permanent classification), the webhook signed by
//! `conea_incidents::channels::webhook` (Standard Webhooks), e-mail through
//! `conea_incidents::channels::email::send` on the escalation policy's SMTP server and
//! sender, as `multipart/alternative` (text and HTML).

use crate::model::{Channel, Destination};
use crate::render::Rendered;
use conea_core::clock::EpochMs;
use conea_incidents::channels::{email, webhook};
use conea_incidents::delivery::{DeliveryError, HttpDeliver};
use conea_incidents::policy::{SmtpSettings, WebhookSecret};
use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use serde_json::Value;
use std::time::{Duration, UNIX_EPOCH};

/// The SMTP server and sender e-mail reports go out with (the escalation policy's e-mail
/// channel); without it, schedules refuse e-mail destinations.
#[derive(Debug, Clone)]
pub struct EmailSetup {
    pub smtp: SmtpSettings,
    pub from: Mailbox,
}

/// One report, ready for every channel.
pub struct Outgoing<'a> {
    pub rendered: &'a Rendered,
    pub slack: &'a Value,
    pub webhook_body: &'a [u8],
    pub secret: &'a WebhookSecret,
    /// Stable per (run, destination): the webhook id and the e-mail Message-ID, so a retry
    /// is recognisably the same message.
    pub message_key: String,
    pub now: EpochMs,
}

pub struct Sender {
    http: HttpDeliver,
    email: Option<EmailSetup>,
    timeout: Duration,
}

impl Sender {
    pub fn new(timeout: Duration, email: Option<EmailSetup>) -> Result<Self, String> {
        Ok(Sender {
            http: HttpDeliver::new(timeout)?,
            email,
            timeout,
        })
    }

    pub fn email_configured(&self) -> bool {
        self.email.is_some()
    }

    /// Sends; `Ok` describes the receipt.
    pub async fn send(&self, d: &Destination, o: &Outgoing<'_>) -> Result<String, DeliveryError> {
        match d.channel {
            Channel::Slack => {
                let bytes = serde_json::to_vec(o.slack).unwrap_or_default();
                self.http.post_bytes(&d.target, bytes, &[]).await
            }
            Channel::Webhook => {
                let id = webhook::message_id(&o.message_key);
                let ts = o.now.div_euclid(1000);
                let headers = webhook::headers(o.secret, &id, ts, o.webhook_body);
                let hs: Vec<(&str, String)> = headers.into_iter().collect();
                self.http
                    .post_bytes(&d.target, o.webhook_body.to_vec(), &hs)
                    .await
            }
            Channel::Email => {
                let setup = self.email.as_ref().ok_or_else(|| {
                    DeliveryError::permanent(
                        "e-mail is not configured (the escalation policy has no email channel)",
                    )
                })?;
                let to: Mailbox = d
                    .target
                    .parse()
                    .map_err(|e| DeliveryError::permanent(format!("recipient: {e}")))?;
                let id = webhook::message_id(&o.message_key);
                let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(o.now).unwrap_or(0));
                let msg = Message::builder()
                    .from(setup.from.clone())
                    .to(to)
                    .subject(o.rendered.subject.clone())
                    .date(date)
                    .message_id(Some(format!("<{id}@conea>")))
                    .multipart(email_body(o.rendered))
                    .map_err(|e| DeliveryError::permanent(e.to_string()))?;
                email::send(&setup.smtp, msg, self.timeout)
                    .await
                    .map_err(|err| match err {
                        email::EmailError::Smtp(s) if s.is_permanent() => {
                            DeliveryError::permanent(format!("SMTP: {s}"))
                        }
                        other => DeliveryError::retryable(other.to_string()),
                    })?;
                Ok("sent".into())
            }
        }
    }
}

/// The e-mail's body: `multipart/alternative` of the text and the HTML; when the HTML shows
/// images, the HTML and its images are one `multipart/related` part (each image inline,
/// found by its `Content-ID`).
pub fn email_body(rendered: &Rendered) -> MultiPart {
    let png = ContentType::parse("image/png");
    let (false, Ok(png)) = (rendered.images.is_empty(), png) else {
        return MultiPart::alternative_plain_html(rendered.text.clone(), rendered.html.clone());
    };
    let mut related = MultiPart::related().singlepart(SinglePart::html(rendered.html.clone()));
    for image in &rendered.images {
        related = related.singlepart(
            Attachment::new_inline(image.content_id.clone()).body(image.png.clone(), png.clone()),
        );
    }
    MultiPart::alternative()
        .singlepart(SinglePart::plain(rendered.text.clone()))
        .multipart(related)
}
