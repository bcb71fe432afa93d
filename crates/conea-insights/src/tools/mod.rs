//! The tools: the [`catalogue`] the model sees, its arguments checked ([`args`]), and the
//! executor [`Tools`], which runs a call as the caller through the same service functions
//! the API routes call (`AnalyticsService::report`, `DataService::list_*`/`get_*`), so
//! their permission checks and their organization scoping apply unchanged.

pub mod args;
pub mod catalogue;
pub mod summary;

pub use args::{Scope, ToolError};
pub use catalogue::{catalogue, List, Lookup, Tool, MAX_TOOL_ROWS};

use conea_core::clock::Clock;
use conea_core::error::{CoreError, CoreResult};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_shopdata::analytics::AnalyticsService;
use conea_shopdata::service::DataService;
use serde_json::{json, Value};
use std::sync::Arc;

/// A call that ran: the arguments in effect (the question's period and shop filled in) and
/// the full result.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub arguments: Value,
    pub result: Value,
}

/// What the ask loop needs of the tools: the question's shop checked, and calls run.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// The id of the caller's shop `shop` (an id or a domain); another organization's shop
    /// is not found.
    async fn shop(&self, by: &Principal, shop: &str) -> CoreResult<String>;

    /// Runs one call as `by`. `Ok(Err(_))` is a tool error for the model; `Err(_)` fails
    /// the question (the store is down, ...).
    async fn run(
        &self,
        by: &Principal,
        scope: &Scope,
        name: &str,
        arguments: &Value,
    ) -> CoreResult<Result<Ran, ToolError>>;
}

/// Runs tool calls for a caller.
pub struct Tools {
    data: Arc<DataService>,
    analytics: Arc<AnalyticsService>,
    clock: Arc<dyn Clock>,
}

/// Errors the model can act on (a bad argument, a record that is not there — in another
/// organization or nowhere, alike) are told to it; the rest fail the question.
fn told(e: CoreError) -> CoreResult<Result<Ran, ToolError>> {
    match e {
        CoreError::InvalidInput { .. }
        | CoreError::Unprocessable { .. }
        | CoreError::Rejected { .. }
        | CoreError::NotFound { .. } => Ok(Err(ToolError::new(e.to_string()))),
        other => Err(other),
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> CoreResult<Value> {
    serde_json::to_value(v).map_err(CoreError::internal)
}

impl Tools {
    pub fn new(
        data: Arc<DataService>,
        analytics: Arc<AnalyticsService>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Tools {
            data,
            analytics,
            clock,
        }
    }
}

#[async_trait::async_trait]
impl Executor for Tools {
    /// [data:read]
    async fn shop(&self, by: &Principal, shop: &str) -> CoreResult<String> {
        by.require(Permission::DataRead)?;
        let found = self
            .data
            .store()
            .find_shop(&by.org_id, shop)
            .await?
            .ok_or_else(|| CoreError::not_found("shop", shop))?;
        Ok(found.id.as_str().to_owned())
    }

    async fn run(
        &self,
        by: &Principal,
        scope: &Scope,
        name: &str,
        arguments: &Value,
    ) -> CoreResult<Result<Ran, ToolError>> {
        let Some(tool) = Tool::parse(name) else {
            let names: Vec<&str> = Tool::all().into_iter().map(Tool::name).collect();
            return Ok(Err(ToolError::new(format!(
                "`{name}` is not a tool; the tools are {}.",
                names.join(", ")
            ))));
        };
        match tool {
            Tool::Report(report) => {
                let (raw, arguments) =
                    match args::report_params(report, arguments, scope, self.clock.now_ms()) {
                        Ok(p) => p,
                        Err(e) => return Ok(Err(e)),
                    };
                match self.analytics.report(by, report.as_str(), &raw).await {
                    Ok(result) => Ok(Ok(Ran { arguments, result })),
                    Err(e) => told(e),
                }
            }
            Tool::List(list) => {
                let (params, arguments) = match args::list_params(tool, arguments, scope) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let page = match list {
                    List::Orders => match params.orders() {
                        Ok(q) => self.data.list_orders(by, &q).await.and_then(|p| page(&p)),
                        Err(e) => return Ok(Err(ToolError::new(e.message))),
                    },
                    List::Products => match params.products() {
                        Ok(q) => self.data.list_products(by, &q).await.and_then(|p| page(&p)),
                        Err(e) => return Ok(Err(ToolError::new(e.message))),
                    },
                    List::Customers => match params.customers() {
                        Ok(q) => self
                            .data
                            .list_customers(by, &q)
                            .await
                            .and_then(|p| page(&p)),
                        Err(e) => return Ok(Err(ToolError::new(e.message))),
                    },
                };
                match page {
                    Ok(result) => Ok(Ok(Ran { arguments, result })),
                    Err(e) => told(e),
                }
            }
            Tool::Get(lookup) => {
                let (id, shop, arguments) = match args::lookup_params(tool, arguments, scope) {
                    Ok(p) => p,
                    Err(e) => return Ok(Err(e)),
                };
                let shop = shop.as_deref();
                let found = match lookup {
                    Lookup::Order => self
                        .data
                        .get_order(by, &id, shop)
                        .await
                        .and_then(|r| to_json(&r)),
                    Lookup::Product => self
                        .data
                        .get_product(by, &id, shop)
                        .await
                        .and_then(|r| to_json(&r)),
                    Lookup::Customer => self
                        .data
                        .get_customer(by, &id, shop)
                        .await
                        .and_then(|r| to_json(&r)),
                };
                match found {
                    Ok(result) => Ok(Ok(Ran { arguments, result })),
                    Err(e) => told(e),
                }
            }
        }
    }
}

/// A list page as a result: its rows, how many, and whether more match.
fn page<T: serde::Serialize>(p: &conea_shopdata::reads::Page<T>) -> CoreResult<Value> {
    Ok(json!({
        "rows": to_json(&p.data)?,
        "row_count": p.data.len(),
        "more_match": p.next_cursor.is_some(),
    }))
}
