//! Read routing at the edge: a safe request (GET, HEAD) of an authenticated client runs with
//! its reads routed by [`conea_core::reads::ReadRouter`] (replica when current and the
//! client has not written recently); any other request is a write and is remembered, so the
//! same client's next reads go to the primary until the replica has it. The response says
//! which database served the reads in `Conea-Read-From` (only when a replica is configured).

use crate::state::AppState;
use axum::extract::Request;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use conea_core::reads;

pub const READ_FROM_HEADER: &str = "conea-read-from";

pub async fn run(state: &AppState, client: &str, req: Request, next: Next) -> Response {
    let router = &state.platform().reads;
    if !router.replica_configured() {
        return next.run(req).await;
    }
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        let decision = router.route(Some(client)).await;
        state.metrics().observe_read_route(decision);
        let mut response = reads::scope(decision.target, next.run(req)).await;
        response.headers_mut().insert(
            READ_FROM_HEADER,
            HeaderValue::from_static(decision.target.as_str()),
        );
        response
    } else {
        let response = next.run(req).await;
        // After the handler: its writes are committed, so the mark is not earlier than them.
        router.note_write(client).await;
        response
    }
}
