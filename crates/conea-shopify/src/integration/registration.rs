//! The webhooks Conea registers at a shop: every topic of [`SUBSCRIBED_TOPICS`] delivered
//! to this server's address. [`repair`] lists the app's subscriptions and re-creates the
//! missing ones (subscriptions to other addresses are someone else's and left alone);
//! [`remove`] deletes Conea's own.

use crate::client::ShopifyClient;
use crate::error::ShopifyApiError;
use crate::subscriptions::Subscription;
use crate::topics::SUBSCRIBED_TOPICS;
use serde::Serialize;

/// A shop's webhook subscriptions as Conea sees them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Registration {
    /// The address Conea's subscriptions deliver to.
    pub address: String,
    /// Conea's subscriptions (to `address`), after the repair when there was one.
    pub subscriptions: Vec<Subscription>,
    /// Topics Conea subscribes to that have no subscription to `address` (after a repair:
    /// none, unless creating one failed).
    pub missing: Vec<String>,
    /// Topics the repair subscribed again.
    pub created: Vec<String>,
    /// The app's subscriptions to other addresses, left alone.
    pub foreign: Vec<Subscription>,
}

fn split(address: &str, all: Vec<Subscription>) -> (Vec<Subscription>, Vec<Subscription>) {
    all.into_iter()
        .partition(|s| s.callback_url.as_deref() == Some(address))
}

fn missing(ours: &[Subscription]) -> Vec<String> {
    SUBSCRIBED_TOPICS
        .iter()
        .filter(|t| !ours.iter().any(|s| s.topic == **t))
        .map(|t| (*t).to_owned())
        .collect()
}

/// The shop's subscriptions, without changing any.
pub async fn inspect(
    client: &ShopifyClient,
    address: &str,
) -> Result<Registration, ShopifyApiError> {
    let (subscriptions, foreign) = split(address, client.list_subscriptions().await?);
    Ok(Registration {
        address: address.to_owned(),
        missing: missing(&subscriptions),
        subscriptions,
        created: Vec::new(),
        foreign,
    })
}

/// Subscribes every topic that has no subscription to `address`. A topic that cannot be
/// created stays in `missing` (logged); any other failure (listing, a refused token) is the
/// error.
pub async fn repair(
    client: &ShopifyClient,
    address: &str,
) -> Result<Registration, ShopifyApiError> {
    let mut r = inspect(client, address).await?;
    let mut still_missing = Vec::new();
    for topic in std::mem::take(&mut r.missing) {
        match client.create_subscription(&topic, address).await {
            Ok(s) => {
                r.subscriptions.push(s);
                r.created.push(topic);
            }
            Err(e) if e.kind == crate::ErrorKind::Rejected => {
                tracing::warn!(shop = %client.shop_domain(), topic, error = %e, "Shopify refused a webhook subscription");
                still_missing.push(topic);
            }
            Err(e) => return Err(e),
        }
    }
    r.missing = still_missing;
    Ok(r)
}

/// Deletes Conea's subscriptions (those to `address`); returns how many went.
pub async fn remove(client: &ShopifyClient, address: &str) -> Result<usize, ShopifyApiError> {
    let (ours, _) = split(address, client.list_subscriptions().await?);
    for s in &ours {
        client.delete_subscription(&s.id).await?;
    }
    Ok(ours.len())
}
