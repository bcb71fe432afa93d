//! Connection limits of the running server (issue 22, item 1): a flood of sockets that send
//! a partial request head and wait does not stop `/livez` or authenticated requests, and no
//! such socket outlives the header-read timeout. The accept loop does not touch the database,
//! so these run on SQLite only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use conea_testkit::{Backend, TestApp};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The target: answers within 2 s while flooded.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

async fn slow_socket(app: &TestApp) -> TcpStream {
    let addr = app.base_url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).await.unwrap();
    // A request head that never ends.
    s.write_all(b"GET /livez HTTP/1.1\r\nHost: conea\r\nX-Slow: ")
        .await
        .unwrap();
    s
}

/// True when the server closed the socket (end of stream or reset) within `within`.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 64];
    match tokio::time::timeout(within, s.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => panic!("the server answered an unfinished request head"),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn livez_and_an_authenticated_request_answer_while_more_slow_sockets_than_the_cap_are_open() {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("CONEA_MAX_OPEN_CONNECTIONS", "20"),
            ("CONEA_HEADER_READ_TIMEOUT", "60s"),
        ],
    )
    .await
    .expect("SQLite always runs");
    let mut slow = Vec::new();
    for _ in 0..60 {
        slow.push(slow_socket(&app).await);
    }
    let livez = tokio::time::timeout(ANSWER_WITHIN, app.client.get("/livez", None))
        .await
        .expect("/livez answers within 2 s while flooded");
    assert_eq!(livez.status, 200);
    let verify = tokio::time::timeout(
        ANSWER_WITHIN,
        app.client.get("/v1/auth/verify", Some(app.owner())),
    )
    .await
    .expect("an authenticated request answers within 2 s while flooded");
    assert_eq!(verify.status, 200, "{}", verify.text);
    // The oldest slow sockets made room: closed long before their header-read timeout.
    assert!(
        closed_within(&mut slow[0], ANSWER_WITHIN).await,
        "the oldest socket without a request was shed at the cap"
    );
    assert!(
        !closed_within(slow.last_mut().unwrap(), Duration::from_millis(200)).await,
        "the newest slow socket still holds its slot (nothing shed it yet)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_never_finishes_its_request_head_is_closed_after_the_header_read_timeout() {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("CONEA_HEADER_READ_TIMEOUT", "1s")])
        .await
        .expect("SQLite always runs");
    let mut slow = slow_socket(&app).await;
    let mut silent = TcpStream::connect(app.base_url.trim_start_matches("http://"))
        .await
        .unwrap();
    // Generous: the timeout is 1 s; the bound only says "not left open".
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "a partial head is not held past the header-read timeout"
    );
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "a socket that sends nothing is not held either"
    );
    assert_eq!(app.client.get("/livez", None).await.status, 200);
}
