//! `channels::email::send` against a tiny local SMTP fake (EHLO, MAIL, RCPT, DATA, QUIT;
//! no STARTTLS), so both the delivery and the "STARTTLS required" refusal are real.

use conea_incidents::channels::email::{self, EmailContent, SmtpSettings};
use conea_incidents::channels::{IncidentMessage, Links, Notice};
use conea_incidents::Severity;
use lettre::message::Mailbox;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

#[derive(Debug, Default, Clone)]
struct Session {
    commands: Vec<String>,
    data: String,
}

/// Accepts connections on 127.0.0.1:0 and sends what each session said, when the client
/// hangs up. `reject_rcpt` answers 550 to every RCPT.
async fn fake_smtp(reject_rcpt: bool) -> (u16, mpsc::UnboundedReceiver<Session>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (record, sessions) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read);
                let mut s = Session::default();
                let _ = write.write_all(b"220 fake.test ESMTP ready\r\n").await;
                let mut line = String::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                    let cmd = line.trim_end().to_string();
                    s.commands.push(cmd.clone());
                    let verb = cmd
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-fake.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n",
                        "MAIL" | "RSET" | "NOOP" => b"250 OK\r\n",
                        "RCPT" if reject_rcpt => b"550 5.1.1 no such user\r\n",
                        "RCPT" => b"250 OK\r\n",
                        "DATA" => {
                            let _ = write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await;
                            let mut body = String::new();
                            loop {
                                line.clear();
                                match lines.read_line(&mut line).await {
                                    Ok(0) | Err(_) => break,
                                    Ok(_) if line == ".\r\n" => break,
                                    Ok(_) => body.push_str(&line),
                                }
                            }
                            s.data = body;
                            b"250 OK queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"502 not implemented\r\n",
                    };
                    let _ = write.write_all(reply).await;
                }
                let _ = record.send(s);
            });
        }
    });
    (port, sessions)
}

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

/// The next finished session (bounded wait: a hung client fails the test, it never sleeps).
async fn next_session(sessions: &mut mpsc::UnboundedReceiver<Session>) -> Session {
    tokio::time::timeout(Duration::from_secs(10), sessions.recv())
        .await
        .expect("the client finished its SMTP session")
        .expect("the fake is running")
}

#[tokio::test]
async fn send_delivers_envelope_and_message_to_a_plain_local_relay() {
    let (port, mut sessions) = fake_smtp(false).await;
    let settings = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}?tls=none")).expect("url");
    let content = email::content(&incident(), &Notice::Opened);
    email::send(&settings, message(&content), Duration::from_secs(10))
        .await
        .expect("delivered");
    let s = next_session(&mut sessions).await;
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
    let (port, mut sessions) = fake_smtp(false).await;
    let settings = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}")).expect("url");
    let content = email::content(&incident(), &Notice::Opened);
    let err = email::send(&settings, message(&content), Duration::from_secs(10))
        .await
        .expect_err("the fake does not offer STARTTLS");
    assert!(matches!(err, email::EmailError::Smtp(_)), "{err:?}");
    let s = next_session(&mut sessions).await;
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
    let (port, _sessions) = fake_smtp(true).await;
    let settings = SmtpSettings::parse(&format!("smtp://127.0.0.1:{port}?tls=none")).expect("url");
    let content = email::content(&incident(), &Notice::Opened);
    let err = email::send(&settings, message(&content), Duration::from_secs(10))
        .await
        .expect_err("550");
    assert!(err.to_string().contains("SMTP delivery failed"), "{err}");
}
