//! GraphQL Admin API calls with cost accounting: each query books its estimated cost in the
//! shop's cost bucket and waits until that many points are available; the answer's
//! `extensions.cost` corrects the model; a `THROTTLED` answer waits for the cost Shopify
//! requested and tries again.

use crate::client::{parse_json, ShopifyClient};
use crate::error::{describe, truncate, ErrorKind, ShopifyApiError};
use crate::http::{Budget, Call};
use crate::throttle::ThrottleStatus;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// The wait after a `THROTTLED` answer that carries no throttle status.
const UNKNOWN_THROTTLE_WAIT: Duration = Duration::from_secs(1);

/// `extensions.cost` of an answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryCost {
    pub requested_query_cost: f64,
    /// `None` when the query did not run (throttled).
    pub actual_query_cost: Option<f64>,
    pub throttle_status: Option<ThrottleStatus>,
}

impl QueryCost {
    /// Reads `extensions.cost` of a GraphQL answer.
    pub fn from_answer(answer: &Value) -> Option<QueryCost> {
        let cost = answer.pointer("/extensions/cost")?;
        let num = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
        let throttle_status = cost.get("throttleStatus").and_then(|t| {
            Some(ThrottleStatus {
                maximum_available: num(t, "maximumAvailable")?,
                currently_available: num(t, "currentlyAvailable")?,
                restore_rate: num(t, "restoreRate")?,
            })
        });
        Some(QueryCost {
            requested_query_cost: num(cost, "requestedQueryCost")?,
            actual_query_cost: num(cost, "actualQueryCost"),
            throttle_status,
        })
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlResponse {
    pub data: Value,
    pub cost: Option<QueryCost>,
    pub request_id: Option<String>,
}

impl ShopifyClient {
    /// Runs a GraphQL query or mutation. `estimated_cost` is what the query may cost at most
    /// (its `requestedQueryCost`; for a connection of `first: N`, about `N + 2`): the call
    /// first waits until the shop's bucket holds that many points. An answer with `errors`
    /// fails as [`ErrorKind::GraphQl`], except `THROTTLED`, which is waited out and retried.
    /// Mutations are not retried after a 5xx or a timeout (they may have run).
    pub async fn graphql(
        &self,
        query: &str,
        variables: Value,
        estimated_cost: u32,
    ) -> Result<GraphqlResponse, ShopifyApiError> {
        let body = json!({ "query": query, "variables": variables });
        let url = self.endpoint("graphql.json")?;
        let idempotent = !is_mutation(query);
        let policy = self.transport().policy;
        let mut cost = f64::from(estimated_cost.max(1));
        let mut throttled = 0u32;
        loop {
            let answer = self
                .transport()
                .send(&Call {
                    method: Method::POST,
                    url: url.clone(),
                    body: Some(&body),
                    budget: Budget::Graphql(cost),
                    idempotent,
                })
                .await?;
            let mut json = parse_json(&answer)?;
            let query_cost = QueryCost::from_answer(&json);
            if let Some(status) = query_cost.and_then(|c| c.throttle_status) {
                answer.reservation.observe_graphql(status);
            }
            let errors = json.get("errors").filter(|e| !is_empty(e));
            if let Some(errors) = errors {
                let error = ShopifyApiError::new(ErrorKind::GraphQl, truncate(describe(errors)))
                    .with_request_id(answer.request_id.clone());
                if !is_throttled(errors) {
                    return Err(error);
                }
                throttled += 1;
                if throttled > policy.max_throttle_retries {
                    return Err(ShopifyApiError {
                        kind: ErrorKind::Throttled,
                        ..error
                    });
                }
                if let Some(c) = query_cost {
                    cost = cost.max(c.requested_query_cost);
                }
                // Without a bucket status there is nothing to compute the wait from.
                if query_cost.and_then(|c| c.throttle_status).is_none() {
                    answer.reservation.block_for(UNKNOWN_THROTTLE_WAIT);
                }
                tracing::info!(shop = %self.shop_domain(), cost, "GraphQL query throttled; waiting");
                continue;
            }
            return Ok(GraphqlResponse {
                data: json.get_mut("data").map(Value::take).unwrap_or(Value::Null),
                cost: query_cost,
                request_id: answer.request_id.clone(),
            });
        }
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Whether an `errors` list holds Shopify's throttle error.
fn is_throttled(errors: &Value) -> bool {
    let one = |e: &Value| {
        e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED")
            || e.get("message").and_then(Value::as_str) == Some("Throttled")
    };
    match errors {
        Value::Array(items) => items.iter().any(one),
        other => one(other),
    }
}

/// Whether the document's first operation is a mutation (comments and whitespace skipped).
fn is_mutation(query: &str) -> bool {
    query
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .is_some_and(|l| l.starts_with("mutation"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_throttled_answer_of_the_docs_is_recognised_with_its_cost() {
        let answer: Value =
            serde_json::from_str(include_str!("../tests/fixtures/graphql_throttled.json")).unwrap();
        assert!(is_throttled(answer.get("errors").unwrap()));
        let cost = QueryCost::from_answer(&answer).unwrap();
        assert_eq!(cost.requested_query_cost, 202.0);
        assert_eq!(cost.actual_query_cost, None);
        assert_eq!(
            cost.throttle_status,
            Some(ThrottleStatus {
                maximum_available: 1000.0,
                currently_available: 90.0,
                restore_rate: 50.0
            })
        );
    }

    #[test]
    fn mutations_are_told_from_queries() {
        assert!(is_mutation("# c\n  mutation { x }"));
        assert!(!is_mutation("query { shop { name } }"));
        assert!(!is_mutation("{ shop { name } }"));
    }
}
