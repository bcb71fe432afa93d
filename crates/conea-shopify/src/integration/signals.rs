//! What the webhook receiver tells the rest of the process: the typed outcome of each
//! delivery (the metric label) and the recent signature failures (the incident detector's
//! signal).

use crate::topics::TopicMismatch;
use conea_core::auth::AuthFailure;
use conea_core::clock::EpochMs;
use conea_core::ids::{JobId, ShopId};
use conea_core::{CoreError, CoreResult};
use std::collections::VecDeque;
use std::sync::Mutex;

/// Most failure times kept (bounded; more than enough to exceed the detector's threshold).
const MAX_FAILURES: usize = 1024;

/// A delivery accepted (stored, or a duplicate of one stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAccepted {
    pub shop_id: ShopId,
    pub job_id: JobId,
    /// False for a duplicate: no second job.
    pub created: bool,
}

/// A delivery whose signature verified: stored, or refused because its body is not what
/// its topic says (answered 200 all the same, so Shopify does not retry it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Stored(WebhookAccepted),
    /// Counted as rejected on the shop and as a signature failure; nothing stored.
    Rejected {
        shop_id: ShopId,
        mismatch: TopicMismatch,
    },
}

/// How one delivery ended, as counted in `conea_shopify_webhooks_total{outcome}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// Stored with its job.
    Accepted,
    /// Already stored (same event id, else webhook id): no second job.
    Duplicate,
    /// No connected shop has that domain.
    UnknownShop,
    /// The HMAC did not verify under the current or the previous secret.
    InvalidSignature,
    /// Signed, but the body is not its topic's payload (a body replayed under another
    /// topic) or a `shop/redact` for a shop that is not uninstalled: answered 200, nothing
    /// stored, counted as a signature failure.
    TopicMismatch,
    /// A required header is missing or malformed.
    InvalidHeaders,
    /// Anything else (the store failed, the body is not UTF-8…).
    Error,
}

impl WebhookOutcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookOutcome::Accepted => "accepted",
            WebhookOutcome::Duplicate => "duplicate",
            WebhookOutcome::UnknownShop => "unknown_shop",
            WebhookOutcome::InvalidSignature => "invalid_signature",
            WebhookOutcome::TopicMismatch => "topic_mismatch",
            WebhookOutcome::InvalidHeaders => "invalid_headers",
            WebhookOutcome::Error => "error",
        }
    }

    /// The outcome of [`ShopifyService::receive_webhook`](super::ShopifyService::receive_webhook)'s result.
    pub fn of(result: &CoreResult<Delivered>) -> Self {
        match result {
            Ok(Delivered::Stored(r)) if r.created => WebhookOutcome::Accepted,
            Ok(Delivered::Stored(_)) => WebhookOutcome::Duplicate,
            Ok(Delivered::Rejected { .. }) => WebhookOutcome::TopicMismatch,
            Err(CoreError::Unauthenticated(AuthFailure::UnknownWebhookShop)) => {
                WebhookOutcome::UnknownShop
            }
            Err(CoreError::Unauthenticated(_)) => WebhookOutcome::InvalidSignature,
            Err(CoreError::InvalidInput { .. }) => WebhookOutcome::InvalidHeaders,
            Err(_) => WebhookOutcome::Error,
        }
    }

    /// A refusal of the sender (logged with shop, topic and ids), not a failure of ours.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            WebhookOutcome::UnknownShop
                | WebhookOutcome::InvalidSignature
                | WebhookOutcome::TopicMismatch
                | WebhookOutcome::InvalidHeaders
        )
    }

    /// What the signature-failure signal (the `webhooks` detector) counts: a bad HMAC, or
    /// a signed body replayed under another topic.
    pub fn is_signature_failure(self) -> bool {
        matches!(
            self,
            WebhookOutcome::InvalidSignature | WebhookOutcome::TopicMismatch
        )
    }
}

/// Webhook signature failures, kept for the incident detector: [`ShopifyService`]
/// records one on every rejected signature; the server's `webhooks` detector counts those
/// within its window.
///
/// [`ShopifyService`]: super::ShopifyService
#[derive(Default)]
pub struct SignatureFailures {
    webhook_failures: Mutex<VecDeque<EpochMs>>,
}

impl SignatureFailures {
    pub fn record(&self, at: EpochMs) {
        let mut q = self
            .webhook_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if q.len() >= MAX_FAILURES {
            q.pop_front();
        }
        q.push_back(at);
    }

    /// Failure times held (bounded by 1,024; exported in `/metrics`).
    pub fn len(&self) -> usize {
        self.webhook_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Failures at or after `since` (older ones are dropped).
    pub fn since(&self, since: EpochMs) -> usize {
        let mut q = self
            .webhook_failures
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while q.front().is_some_and(|t| *t < since) {
            q.pop_front();
        }
        q.len()
    }
}
