//! Webhook subscriptions through the GraphQL Admin API: `webhookSubscriptions(first:)` to
//! list the app's subscriptions of a shop, `webhookSubscriptionCreate(topic:,
//! webhookSubscription: {callbackUrl, format: JSON})` and `webhookSubscriptionDelete(id:)`.
//! A mutation's `userErrors` (a refused address, a topic the app's scopes do not allow)
//! fail as [`ErrorKind::Rejected`] with their messages.

use crate::client::ShopifyClient;
use crate::error::{ErrorKind, ShopifyApiError};
use serde_json::{json, Value};

/// One of the app's webhook subscriptions in a shop.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Subscription {
    /// `gid://shopify/WebhookSubscription/…`
    pub id: String,
    /// The topic as the webhook header spells it (`orders/create`).
    pub topic: String,
    /// The HTTPS address it delivers to; `None` for EventBridge or Pub/Sub endpoints.
    pub callback_url: Option<String>,
}

/// GraphQL's spelling of a topic: `orders/create` is `ORDERS_CREATE`.
pub fn graphql_topic(topic: &str) -> String {
    topic.replace('/', "_").to_ascii_uppercase()
}

/// Resources whose own name has an underscore (the first underscore of their topics does not
/// end the resource).
const TWO_WORD_RESOURCES: [&str; 4] = [
    "bulk_operations",
    "app_subscriptions",
    "inventory_items",
    "inventory_levels",
];

/// The header's spelling of a GraphQL topic: `ORDERS_CREATE` is `orders/create` (the first
/// underscore separates the resource from the event: `CUSTOMERS_DATA_REQUEST` is
/// `customers/data_request`; except after a two-word resource: `BULK_OPERATIONS_FINISH` is
/// `bulk_operations/finish`).
pub fn header_topic(topic: &str) -> String {
    let lower = topic.to_ascii_lowercase();
    for resource in TWO_WORD_RESOURCES {
        if let Some(event) = lower
            .strip_prefix(resource)
            .and_then(|rest| rest.strip_prefix('_'))
        {
            return format!("{resource}/{event}");
        }
    }
    lower.replacen('_', "/", 1)
}

const LIST: &str = "query webhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    edges { node { id topic format endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } } }
    pageInfo { hasNextPage endCursor }
  }
}";

const CREATE: &str = "mutation webhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { id topic format endpoint { __typename ... on WebhookHttpEndpoint { callbackUrl } } }
    userErrors { field message }
  }
}";

const DELETE: &str = "mutation webhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}";

/// Subscriptions per listing page.
const PAGE: u32 = 100;
/// A mutation's estimated cost (Shopify charges 10 points per mutation).
const MUTATION_COST: u32 = 10;

fn malformed(what: &str) -> ShopifyApiError {
    ShopifyApiError::new(ErrorKind::Malformed, format!("the answer has no {what}"))
}

fn subscription(node: &Value) -> Option<Subscription> {
    Some(Subscription {
        id: node.get("id")?.as_str()?.to_owned(),
        topic: header_topic(node.get("topic")?.as_str()?),
        callback_url: node
            .pointer("/endpoint/callbackUrl")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Fails with the mutation's `userErrors`, if it has any.
fn user_errors(payload: &Value) -> Result<(), ShopifyApiError> {
    let errors = payload
        .get("userErrors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if errors.is_empty() {
        return Ok(());
    }
    let text = errors
        .iter()
        .map(|e| {
            let field = e
                .get("field")
                .and_then(Value::as_array)
                .map(|f| {
                    f.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(".")
                })
                .unwrap_or_default();
            let message = e.get("message").and_then(Value::as_str).unwrap_or("?");
            if field.is_empty() {
                message.to_owned()
            } else {
                format!("{field}: {message}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    Err(ShopifyApiError::new(ErrorKind::Rejected, text))
}

impl ShopifyClient {
    /// Every webhook subscription the app has in the shop (all pages).
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, ShopifyApiError> {
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let r = self
                .graphql(LIST, json!({"first": PAGE, "after": after}), PAGE + 2)
                .await?;
            let connection = r
                .data
                .get("webhookSubscriptions")
                .ok_or_else(|| malformed("webhookSubscriptions"))?;
            let edges = connection
                .get("edges")
                .and_then(Value::as_array)
                .ok_or_else(|| malformed("webhookSubscriptions.edges"))?;
            for edge in edges {
                let node = edge.get("node").unwrap_or(&Value::Null);
                out.push(subscription(node).ok_or_else(|| malformed("subscription id/topic"))?);
            }
            let more = connection
                .pointer("/pageInfo/hasNextPage")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            after = connection
                .pointer("/pageInfo/endCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if !more || after.is_none() {
                return Ok(out);
            }
        }
    }

    /// Subscribes the shop's `topic` (`orders/create`) to `callback_url`, JSON format.
    pub async fn create_subscription(
        &self,
        topic: &str,
        callback_url: &str,
    ) -> Result<Subscription, ShopifyApiError> {
        let vars = json!({
            "topic": graphql_topic(topic),
            "webhookSubscription": {"callbackUrl": callback_url, "format": "JSON"},
        });
        let r = self.graphql(CREATE, vars, MUTATION_COST).await?;
        let payload = r
            .data
            .get("webhookSubscriptionCreate")
            .ok_or_else(|| malformed("webhookSubscriptionCreate"))?;
        user_errors(payload)?;
        payload
            .get("webhookSubscription")
            .and_then(subscription)
            .ok_or_else(|| malformed("webhookSubscription"))
    }

    /// Deletes one of the app's subscriptions by its id.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), ShopifyApiError> {
        let r = self
            .graphql(DELETE, json!({"id": id}), MUTATION_COST)
            .await?;
        let payload = r
            .data
            .get("webhookSubscriptionDelete")
            .ok_or_else(|| malformed("webhookSubscriptionDelete"))?;
        user_errors(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_spelt_both_ways() {
        assert_eq!(graphql_topic("orders/create"), "ORDERS_CREATE");
        assert_eq!(graphql_topic("app/uninstalled"), "APP_UNINSTALLED");
        assert_eq!(header_topic("ORDERS_CREATE"), "orders/create");
        assert_eq!(
            header_topic("CUSTOMERS_DATA_REQUEST"),
            "customers/data_request"
        );
        assert_eq!(
            header_topic("BULK_OPERATIONS_FINISH"),
            "bulk_operations/finish"
        );
        assert_eq!(
            graphql_topic("bulk_operations/finish"),
            "BULK_OPERATIONS_FINISH"
        );
        for t in crate::topics::SUBSCRIBED_TOPICS {
            assert_eq!(header_topic(&graphql_topic(t)), t);
        }
    }

    #[test]
    fn user_errors_fail_with_their_field_and_message() {
        let payload = json!({"webhookSubscription": null, "userErrors": [
            {"field": ["webhookSubscription", "callbackUrl"], "message": "Address is invalid"}]});
        let e = user_errors(&payload).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert_eq!(
            e.message,
            "webhookSubscription.callbackUrl: Address is invalid"
        );
        assert!(user_errors(&json!({"userErrors": []})).is_ok());
    }
}
