//! `channels::email::send` against the testkit's local SMTP fake (no STARTTLS), so both the
//! delivery and the "STARTTLS required" refusal are real.

use conea_incidents::channels::email::{self, EmailContent, SmtpSettings};
use conea_incidents::channels::{IncidentMessage, Links, Notice};
use conea_incidents::Severity;
use conea_testkit::fake_smtp::FakeSmtp;
use lettre::message::Mailbox;
use std::time::Duration;

fn incident() -> IncidentMessage {
    IncidentMessage {
        incident_id: "inc_01".into(),
        title: "Checkout API down".into(),
        severity: Severity::High,
        summary: "5xx rate above 50%".into(),
        opened_at: 1_780_448_400_000,
        responder: "platform_team".into(),
        source: "alertmanager".into(),
        dedup_key: "1a30ba71cca2921f".into(),
        links: Links {
            timeline: "https://conea.example/incidents/inc_01".into(),
            acknowledge: None,
            resolve: None,
        },
    }
}

fn message(content: &EmailContent) -> lettre::Message {
    let from: Mailbox = "Conea <incidents@conea.example>".parse().expect("from");
    let to: Mailbox = "oncall@conea.example".parse().expect("to");
    email::build_message(&from, &[to], content, 1_780_448_400_000, "msg_1").expect("message")
}

#[tokio::test]
async fn send_delivers_envelope_and_message_to_a_plain_local_relay() {
    let smtp = FakeSmtp::start(false).await;
    let port = smtp.port;
    let settings = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}?tls=none")).expect("url");
    let content = email::content(&incident(), &Notice::Opened);
    email::send(&settings, message(&content), Duration::from_secs(10))
        .await
        .expect("delivered");
    let s = smtp.next_session().await;
    let c = &s.commands;
    assert!(c[0].starts_with("EHLO conea"), "{c:?}");
    assert!(
        c.iter()
            .any(|l| l.starts_with("MAIL FROM:<incidents@conea.example>")),
        "{c:?}"
    );
    assert!(
        c.iter().any(|l| l == "RCPT TO:<oncall@conea.example>"),
        "{c:?}"
    );
    assert_eq!(c.last().map(String::as_str), Some("QUIT"));
    let data = &s.data;
    assert!(
        data.contains("Subject: [HIGH] Checkout API down\r\n"),
        "{data}"
    );
    assert!(data.contains("Message-ID: <msg_1@conea>\r\n"), "{data}");
    assert!(
        data.contains("A new incident needs platform_team."),
        "{data}"
    );
}

#[tokio::test]
async fn starttls_is_required_by_default_and_nothing_is_sent_without_it() {
    let smtp = FakeSmtp::start(false).await;
    let port = smtp.port;
    let settings = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}")).expect("url");
    let content = email::content(&incident(), &Notice::Opened);
    let err = email::send(&settings, message(&content), Duration::from_secs(10))
        .await
        .expect_err("the fake does not offer STARTTLS");
    assert!(matches!(err, email::EmailError::Smtp(_)), "{err:?}");
    let s = smtp.next_session().await;
    let commands = &s.commands;
    assert!(commands[0].starts_with("EHLO"), "{commands:?}");
    assert!(
        !commands
            .iter()
            .any(|l| l.starts_with("MAIL") || l.starts_with("DATA")),
        "no mail may travel in plain text: {commands:?}"
    );
}

#[tokio::test]
async fn a_rejected_recipient_is_a_delivery_error() {
    let smtp = FakeSmtp::start(true).await;
    let port = smtp.port;
    let settings = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}?tls=none")).expect("url");
    let content = email::content(&incident(), &Notice::Opened);
    let err = email::send(&settings, message(&content), Duration::from_secs(10))
        .await
        .expect_err("550");
    assert!(err.to_string().contains("SMTP delivery failed"), "{err}");
}
