//! A TCP proxy that can be cut and restored, or frozen and thawed, to make a real service
//! (Redis, PostgreSQL) "go down" or "hang" for one test without touching the service other
//! tests use.
//!
//! Frozen is what a stopped process (`SIGSTOP`) or a black-holed network looks like from the
//! client: connections are accepted and stay open, what the client sends is taken and held,
//! nothing comes back; thawed, the held bytes go through and answers flow again. What clients
//! sent while frozen is recorded ([`ToggleProxy::sent_while_frozen`]), so a test can tell
//! whether anything still tried the service.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct ToggleProxy {
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
    frozen: watch::Sender<bool>,
    sent_while_frozen: Arc<Mutex<Vec<u8>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ToggleProxy {
    /// Listens on 127.0.0.1:0 and forwards to `target` while up.
    pub async fn start(target: SocketAddr) -> ToggleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let up = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (frozen, _) = watch::channel(false);
        let sent_while_frozen = Arc::new(Mutex::new(Vec::new()));
        let (up2, cut2, frozen2, sent2) = (
            up.clone(),
            cut.clone(),
            frozen.clone(),
            sent_while_frozen.clone(),
        );
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if !up2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                let (up_frozen, down_frozen) = (frozen2.subscribe(), frozen2.subscribe());
                let sent = sent2.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::select! {
                        _ = pump(client_read, server_write, up_frozen, Some(sent)) => {}
                        _ = pump(server_read, client_write, down_frozen, None) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        ToggleProxy {
            addr,
            up,
            cut,
            frozen,
            sent_while_frozen,
            task,
        }
    }

    /// Stops every byte in both directions, connections staying open (see the module doc),
    /// and starts a new record of what clients send.
    pub fn freeze(&self) {
        if let Ok(mut sent) = self.sent_while_frozen.lock() {
            sent.clear();
        }
        self.frozen.send_replace(true);
    }

    /// Lets the held bytes and everything after them through again.
    pub fn thaw(&self) {
        self.frozen.send_replace(false);
    }

    /// What clients sent since the last [`freeze`](Self::freeze), on every connection.
    pub fn sent_while_frozen(&self) -> Vec<u8> {
        self.sent_while_frozen
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Drops every open connection and refuses new ones.
    pub fn down(&self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn up(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`, holding what it reads while frozen (and recording it in `record`)
/// until thawed. Ends when either side closes.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    mut frozen: watch::Receiver<bool>,
    record: Option<Arc<Mutex<Vec<u8>>>>,
) {
    let mut held = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if !*frozen.borrow_and_update() && !held.is_empty() {
            if to.write_all(&held).await.is_err() {
                return;
            }
            held.clear();
        }
        tokio::select! {
            read = from.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                if *frozen.borrow() {
                    if let Some(record) = &record {
                        if let Ok(mut r) = record.lock() {
                            r.extend_from_slice(&buf[..n]);
                        }
                    }
                    held.extend_from_slice(&buf[..n]);
                } else if to.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
            changed = frozen.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
    }
}

impl Drop for ToggleProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
