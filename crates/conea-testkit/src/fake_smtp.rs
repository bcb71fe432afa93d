//! A tiny SMTP server for tests (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no STARTTLS, so a
//! client that requires it is refused for real). Each finished session (the client hung up)
//! is kept in [`FakeSmtp::mails`] and handed to [`FakeSmtp::next_session`].

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What one session said: every command line, and the message given after DATA.
#[derive(Debug, Default, Clone)]
pub struct Mail {
    pub commands: Vec<String>,
    pub data: String,
}

pub struct FakeSmtp {
    pub port: u16,
    /// Every finished session, in order.
    pub mails: Arc<Mutex<Vec<Mail>>>,
    sessions: tokio::sync::Mutex<mpsc::UnboundedReceiver<Mail>>,
}

impl FakeSmtp {
    /// Listens on 127.0.0.1:0. `reject_rcpt` answers 550 to every RCPT.
    pub async fn start(reject_rcpt: bool) -> FakeSmtp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let mails: Arc<Mutex<Vec<Mail>>> = Arc::default();
        let (record, sessions) = mpsc::unbounded_channel();
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = record.clone();
                let kept = kept.clone();
                tokio::spawn(async move {
                    let m = session(stream, reject_rcpt).await;
                    kept.lock().unwrap().push(m.clone());
                    let _ = record.send(m);
                });
            }
        });
        FakeSmtp {
            port,
            mails,
            sessions: tokio::sync::Mutex::new(sessions),
        }
    }

    /// The next finished session (bounded wait: a hung client fails the test).
    pub async fn next_session(&self) -> Mail {
        let mut sessions = self.sessions.lock().await;
        tokio::time::timeout(Duration::from_secs(10), sessions.recv())
            .await
            .expect("the client finished its SMTP session")
            .expect("the fake is running")
    }
}

async fn session(stream: tokio::net::TcpStream, reject_rcpt: bool) -> Mail {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut m = Mail::default();
    let _ = write.write_all(b"220 fake.test ESMTP ready\r\n").await;
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let cmd = line.trim_end().to_string();
        m.commands.push(cmd.clone());
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
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) if line == ".\r\n" => break,
                        Ok(_) => m.data.push_str(&line),
                    }
                }
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
    m
}
