//! `Idempotency-Key` on POSTs that create work: the first response is kept for 24 h and
//! replayed for the same key and body; the same key with another body is refused (422);
//! a retry while the first is still running is refused (409).

use crate::clock::Clock;
use crate::error::ErrorCode;
use crate::error::{CoreError, CoreResult};
use crate::ids::OrgId;
use crate::store::{IdempotencyBegin, IdempotencyStore, StoredResponse};
use sha2::{Digest, Sha256};
use std::sync::Arc;

pub const TTL_MS: i64 = 24 * 3_600_000;
/// A key still "in progress" after this long belonged to a request that died.
pub const STALE_MS: i64 = 5 * 60_000;

pub struct IdempotencyService {
    store: Arc<dyn IdempotencyStore>,
    clock: Arc<dyn Clock>,
}

/// Hash of what makes two requests "the same": method, path and body.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut h = RequestHasher::new(method, path);
    h.update(body);
    h.finish()
}

/// [`request_hash`] over a body that arrives in pieces (a streamed upload).
pub struct RequestHasher(Sha256);

impl RequestHasher {
    pub fn new(method: &str, path: &str) -> Self {
        let mut h = Sha256::new();
        h.update(method.as_bytes());
        h.update(b" ");
        h.update(path.as_bytes());
        h.update(b"\n");
        RequestHasher(h)
    }

    pub fn update(&mut self, piece: &[u8]) {
        self.0.update(piece);
    }

    pub fn finish(self) -> String {
        self.0
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl IdempotencyService {
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Arc<dyn Clock>) -> Self {
        IdempotencyService { store, clock }
    }

    /// `Ok(None)`: run the request and `complete` (or `abandon`) it. `Ok(Some(r))`: replay `r`.
    pub async fn begin(
        &self,
        org: &OrgId,
        key: &str,
        hash: &str,
    ) -> CoreResult<Option<StoredResponse>> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(CoreError::InvalidInput {
                code: ErrorCode::InvalidIdempotencyKey,
                message: "Idempotency-Key must be 1 to 255 visible ASCII characters (a UUID is a good choice).".into(),
                param: Some("Idempotency-Key".into()),
            });
        }
        let now = self.clock.now_ms();
        match self.store.begin(org, key, hash, now, now + TTL_MS, now - STALE_MS).await? {
            IdempotencyBegin::Started => Ok(None),
            IdempotencyBegin::Done(r) => Ok(Some(r)),
            IdempotencyBegin::InProgress => Err(CoreError::Conflict {
                code: ErrorCode::IdempotencyKeyInUse,
                message: "A request with this Idempotency-Key is still being processed. Retry after it finished to get its response.".into(),
            }),
            IdempotencyBegin::Mismatch => Err(CoreError::Unprocessable {
                code: ErrorCode::IdempotencyKeyReused,
                message: "This Idempotency-Key was used with a different request body. Use a new key for a new request.".into(),
                param: Some("Idempotency-Key".into()),
            }),
        }
    }

    pub async fn complete(
        &self,
        org: &OrgId,
        key: &str,
        response: &StoredResponse,
    ) -> CoreResult<()> {
        Ok(self.store.complete(org, key, response).await?)
    }

    pub async fn abandon(&self, org: &OrgId, key: &str) -> CoreResult<()> {
        Ok(self.store.abandon(org, key).await?)
    }
}
