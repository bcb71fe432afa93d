//! E-mail: the subject and plain-text body of an incident notice, the RFC 5322 message
//! (lettre's builder) and a thin SMTP [`send`] to the policy's [`SmtpSettings`].

use super::{headline, IncidentMessage, Notice};
pub use crate::policy::smtp::{SmtpSecurity, SmtpSettings};
use conea_core::clock::{rfc3339, EpochMs};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::{Duration, UNIX_EPOCH};

/// Subject and plain-text body of a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    pub subject: String,
    pub text: String,
}

/// The e-mail for a notice about an incident.
pub fn content(m: &IncidentMessage, notice: &Notice) -> EmailContent {
    let head = headline(m);
    let (prefix, what) = match notice {
        Notice::Opened => (
            String::new(),
            format!("A new incident needs {}.", m.responder),
        ),
        Notice::Escalated { role, contact } => (
            "Escalated: ".into(),
            format!("Not acknowledged in time. Paging {role} ({contact})."),
        ),
        Notice::CommanderSummoned { name, contact } => (
            "Commander summoned: ".into(),
            match contact {
                Some(c) => {
                    format!("Unresolved in time. Incident commander {name} ({c}) is summoned.")
                }
                None => format!("Unresolved in time. Incident commander {name} is summoned."),
            },
        ),
        Notice::StakeholderUpdate => (
            "Stakeholder update: ".into(),
            "A critical incident is being handled. Follow the timeline for updates.".into(),
        ),
        Notice::Acknowledged { by, at } => (
            "Acknowledged: ".into(),
            format!("Acknowledged by {by} at {}.", rfc3339(*at)),
        ),
        Notice::Resolved { by, at } => (
            "Resolved: ".into(),
            format!("Resolved by {by} at {}.", rfc3339(*at)),
        ),
    };
    let mut text = format!(
        "{what}\n\nIncident: {}\nTitle: {}\nSeverity: {}\nResponder: {}\nOpened: {}\nSource: {}\n",
        m.incident_id,
        m.title,
        m.severity.title(),
        m.responder,
        rfc3339(m.opened_at),
        m.source
    );
    if !m.summary.trim().is_empty() {
        text.push_str(&format!("\n{}\n", m.summary.trim()));
    }
    text.push_str(&format!("\nTimeline: {}\n", m.links.timeline));
    if notice.is_open() {
        if let Some(url) = &m.links.acknowledge {
            text.push_str(&format!("Acknowledge: {url}\n"));
        }
    }
    if !matches!(notice, Notice::Resolved { .. }) {
        if let Some(url) = &m.links.resolve {
            text.push_str(&format!("Resolve: {url}\n"));
        }
    }
    EmailContent {
        subject: super::one_line(&format!("{prefix}{head}")),
        text,
    }
}

/// Why an e-mail could not be built or sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("no recipients")]
    NoRecipients,
    #[error("cannot build the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// The message: `from`, every `to`, the subject, a UTF-8 plain-text body, a `Date` from
/// the caller's clock and a stable `Message-ID` (`<{message_id}@conea>`, e.g. derived from
/// the step's job key, so a retried step is recognisably the same mail).
pub fn build_message(
    from: &Mailbox,
    to: &[Mailbox],
    content: &EmailContent,
    sent_at: EpochMs,
    message_id: &str,
) -> Result<Message, EmailError> {
    if to.is_empty() {
        return Err(EmailError::NoRecipients);
    }
    let date = UNIX_EPOCH + Duration::from_millis(u64::try_from(sent_at).unwrap_or(0));
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(content.subject.clone())
        .date(date)
        .message_id(Some(format!("<{message_id}@conea>")))
        .header(ContentType::TEXT_PLAIN);
    for rcpt in to {
        builder = builder.to(rcpt.clone());
    }
    Ok(builder.body(content.text.clone())?)
}

/// Sends one message over SMTP as `settings` say (see the module doc for TLS rules).
pub async fn send(
    settings: &SmtpSettings,
    message: Message,
    timeout: Duration,
) -> Result<(), EmailError> {
    let tls_params =
        || TlsParameters::new(settings.host.clone()).map_err(|e| EmailError::Tls(e.to_string()));
    let tls = match settings.security {
        SmtpSecurity::StartTlsRequired => Tls::Required(tls_params()?),
        SmtpSecurity::StartTlsOpportunistic => Tls::Opportunistic(tls_params()?),
        SmtpSecurity::ImplicitTls => Tls::Wrapper(tls_params()?),
        SmtpSecurity::None => Tls::None,
    };
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.host.clone())
            .port(settings.port)
            .tls(tls)
            .timeout(Some(timeout))
            .hello_name(ClientId::Domain("conea".into()));
    if let (Some(user), Some(pass)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.expose().to_string()));
    }
    builder.build().send(message).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::fixtures::{message, OPENED};
    use crate::severity::Severity;

    #[test]
    fn opened_email_has_headline_subject_details_and_links() {
        let m = message(Severity::High);
        let c = content(&m, &Notice::Opened);
        assert_eq!(c.subject, "[HIGH] Checkout API down");
        assert_eq!(
            c.text,
            "A new incident needs on_call_sre.\n\
             \n\
             Incident: inc_01\n\
             Title: Checkout API down\n\
             Severity: High\n\
             Responder: on_call_sre\n\
             Opened: 2026-06-03T01:00:00Z\n\
             Source: alertmanager\n\
             \n\
             5xx rate above 50% for 5 minutes\n\
             \n\
             Timeline: https://conea.example/incidents/inc_01\n\
             Acknowledge: https://conea.example/l/ack-token\n\
             Resolve: https://conea.example/l/resolve-token\n"
        );
    }

    #[test]
    fn resolved_email_has_no_action_links() {
        let m = message(Severity::High);
        let c = content(
            &m,
            &Notice::Resolved {
                by: "alice".into(),
                at: OPENED,
            },
        );
        assert_eq!(c.subject, "Resolved: [HIGH] Checkout API down");
        assert!(!c.text.contains("Acknowledge:") && !c.text.contains("Resolve:"));
    }

    #[test]
    fn built_message_carries_date_from_the_clock_and_a_stable_message_id() {
        let m = message(Severity::High);
        let c = content(&m, &Notice::Opened);
        let from: Mailbox = "Conea <incidents@conea.example>".parse().expect("from");
        let to: Mailbox = "oncall@conea.example".parse().expect("to");
        let msg = build_message(&from, &[to], &c, OPENED, "msg_abc").expect("message");
        let raw = String::from_utf8(msg.formatted()).expect("utf8");
        assert!(
            raw.contains("Date: Wed, 03 Jun 2026 01:00:00 +0000"),
            "{raw}"
        );
        assert!(raw.contains("Message-ID: <msg_abc@conea>"), "{raw}");
        assert!(raw.contains("Subject: [HIGH] Checkout API down"), "{raw}");
        assert!(raw.contains("To: oncall@conea.example"), "{raw}");
    }

    #[test]
    fn message_without_recipients_is_refused() {
        let c = content(&message(Severity::Low), &Notice::Opened);
        let from: Mailbox = "incidents@conea.example".parse().expect("from");
        assert!(matches!(
            build_message(&from, &[], &c, OPENED, "m"),
            Err(EmailError::NoRecipients)
        ));
    }
}
