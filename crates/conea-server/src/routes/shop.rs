//! `GET /v1/shop/{orders,products,customers}` and `GET /v1/shop/…/{id}`: the shop data read
//! back [data:read]. A list answers a JSON page, or streams every matching row as CSV or
//! NDJSON when asked (`?format=csv|ndjson` or `Accept: text/csv|application/x-ndjson`).
//! The handlers only read the query into conea-shopdata's typed query and pick the answer's
//! form; the reads themselves are `DataService`'s.

use crate::http::auth::Auth;
use crate::http::error::{ApiError, ApiResult, ErrorBody};
use crate::http::json::ApiJson;
use crate::http::query::ApiQuery;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::header::{ACCEPT, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use conea_shopdata::reads::query::{Cursor, CustomerSort, OrderSort, ProductSort, Sort};
use conea_shopdata::reads::{CustomerView, ListParams, OrderDetail, ProductView, ReadFormat};
use conea_shopdata::service::ExportStream;
use futures::StreamExt;
use serde::Deserialize;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::IntoParams;

/// The query of the three lists. Dates are `YYYY-MM-DD` (UTC; a `created_to` date includes
/// its day), RFC 3339 times or epoch milliseconds.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadQuery {
    /// Rows per page, 1 to 250 (default 50); not used by exports.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 250)]
    pub limit: Option<String>,
    /// `next_cursor` of the previous page (same filters); it continues the sort it came from.
    pub cursor: Option<String>,
    /// Orders: `created_at`, `-created_at` (default), `total_price`, `-total_price`.
    /// Products and customers: `created_at`, `-created_at` (default), `updated_at`, `-updated_at`.
    pub sort: Option<String>,
    /// `json` (default), `csv` or `ndjson`; wins over `Accept`.
    #[param(schema_with = format)]
    pub format: Option<String>,
    /// A shop id (`shop_…`) or domain of your organization; default: every shop.
    pub shop_id: Option<String>,
    /// Created at or after.
    #[param(schema_with = super::schemas::instant)]
    pub created_from: Option<String>,
    /// Created before (a date: on or before that day).
    #[param(schema_with = super::schemas::instant)]
    pub created_to: Option<String>,
    /// Changed at the source at or after.
    #[param(schema_with = super::schemas::instant)]
    pub updated_since: Option<String>,
    /// Prefix, case-insensitive: orders by name (`1001` finds `#1001`) or e-mail; products
    /// by title or variant SKU; customers by e-mail, first or last name.
    pub q: Option<String>,
    /// Orders: `paid`, `pending`, `refunded`, `partially_refunded`, … (case-insensitive).
    pub financial_status: Option<String>,
    /// Orders: `fulfilled`, `partial`, … (case-insensitive).
    pub fulfillment_status: Option<String>,
    /// Orders of this customer (source id).
    #[param(schema_with = super::schemas::source_id)]
    pub customer_id: Option<String>,
    /// Orders with a line item of this product (source id).
    #[param(schema_with = super::schemas::source_id)]
    pub product_id: Option<String>,
    /// Products: `active`, `draft`, `archived`.
    pub status: Option<String>,
    /// Products of this vendor (exact).
    pub vendor: Option<String>,
    /// Products of this type (exact).
    pub product_type: Option<String>,
    /// Customers of this RFM segment now, as `rfm_segments` scores them: `champions`,
    /// `loyal`, `new`, `promising`, `at_risk`, `hibernating`.
    #[param(schema_with = super::schemas::segment)]
    pub segment: Option<String>,
}

fn format() -> utoipa::openapi::schema::ObjectBuilder {
    super::schemas::one_of(["json", "csv", "ndjson"])
}

/// The documented query of one list: [`ReadQuery`]'s parameters less the filters that list
/// refuses, with the list's own sorts and cursor shape.
fn list_params(refused: &[&str], sorts: &'static [&'static str]) -> Vec<Parameter> {
    let mut params = <ReadQuery as IntoParams>::into_params(|| Some(ParameterIn::Query));
    params.retain(|p| !refused.contains(&p.name.as_str()));
    for p in &mut params {
        match p.name.as_str() {
            "sort" => p.schema = Some(super::schemas::one_of(sorts.iter().copied()).into()),
            "cursor" => {
                p.schema = Some(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .pattern(Some(Cursor::pattern(sorts)))
                        .into(),
                )
            }
            _ => {}
        }
    }
    params
}

/// The query of `GET /v1/shop/orders`.
pub struct OrdersQuery;
/// The query of `GET /v1/shop/products`.
pub struct ProductsQuery;
/// The query of `GET /v1/shop/customers`.
pub struct CustomersQuery;

impl IntoParams for OrdersQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_params(
            &["segment", "status", "vendor", "product_type"],
            OrderSort::NAMES,
        )
    }
}

impl IntoParams for ProductsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_params(
            &[
                "segment",
                "financial_status",
                "fulfillment_status",
                "customer_id",
                "product_id",
            ],
            ProductSort::NAMES,
        )
    }
}

impl IntoParams for CustomersQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        list_params(
            &[
                "status",
                "vendor",
                "product_type",
                "financial_status",
                "fulfillment_status",
                "customer_id",
                "product_id",
            ],
            CustomerSort::NAMES,
        )
    }
}

impl From<ReadQuery> for ListParams {
    fn from(q: ReadQuery) -> Self {
        ListParams {
            limit: q.limit,
            cursor: q.cursor,
            sort: q.sort,
            format: q.format,
            shop_id: q.shop_id,
            created_from: q.created_from,
            created_to: q.created_to,
            updated_since: q.updated_since,
            q: q.q,
            financial_status: q.financial_status,
            fulfillment_status: q.fulfillment_status,
            customer_id: q.customer_id,
            product_id: q.product_id,
            status: q.status,
            vendor: q.vendor,
            product_type: q.product_type,
            segment: q.segment,
        }
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShopParam {
    /// A shop id or domain: needed only when several of your shops hold the id.
    pub shop_id: Option<String>,
}

/// The list's parameters and the answer's form (`?format=` first, then `Accept`).
fn read(headers: &HeaderMap, q: ReadQuery) -> ApiResult<(ListParams, ReadFormat)> {
    let params = ListParams::from(q);
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format =
        ReadFormat::choose(params.format.as_deref(), accept).map_err(|e| ApiError(e.into()))?;
    Ok((params, format))
}

/// 200 with the export streamed as it is read; a failure after the first byte ends the
/// body early (logged with the request's span).
fn streamed(name: &str, format: ReadFormat, rows: ExportStream) -> Response {
    // The body is polled after the handler returned, outside the request's span: keep it
    // for the log line of a failure.
    let span = tracing::Span::current();
    let body = Body::from_stream(rows.map(move |chunk| {
        chunk.map(Bytes::from).inspect_err(|e| {
            span.in_scope(|| tracing::error!(error = %e, "export stopped before its end"));
        })
    }));
    let mut r = Response::new(body);
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let ext = if format == ReadFormat::Csv {
        "csv"
    } else {
        "ndjson"
    };
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{ext}\"")) {
        r.headers_mut().insert(CONTENT_DISPOSITION, v);
    }
    r
}

/// Your organization's orders, filtered and sorted, a page at a time; or all of them as
/// CSV or NDJSON [data:read].
#[utoipa::path(get, path = "/shop/orders", tag = "shop", params(OrdersQuery),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, description = "`{data: [order], next_cursor}`; or every matching order as CSV (columns in docs/api.md) or NDJSON", content(
        (Object = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming the parameter"),
    (status = 403, body = ErrorBody, description = "`insufficient_permissions`"),
    (status = 404, body = ErrorBody, description = "`not_found` (shop)")))]
pub async fn list_orders(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> ApiResult<Response> {
    let (params, format) = read(&headers, q)?;
    let query = params.orders().map_err(|e| ApiError(e.into()))?;
    let data = &state.platform().data;
    Ok(match format {
        ReadFormat::Json => ApiJson(data.list_orders(&p, &query).await?).into_response(),
        f => streamed("orders", f, data.export_orders(&p, &query, f).await?),
    })
}

/// One order with its line items and customer summary [data:read].
#[utoipa::path(get, path = "/shop/orders/{id}", tag = "shop",
    params(("id" = String, Path, description = "The order's source id"), ShopParam),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "The order, `line_items` and `customer`"),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` (`shop_id`: several shops hold the id)"),
    (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn get_order(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(s): ApiQuery<ShopParam>,
) -> ApiResult<ApiJson<OrderDetail>> {
    let data = &state.platform().data;
    Ok(ApiJson(
        data.get_order(&p, &id, s.shop_id.as_deref()).await?,
    ))
}

/// Your organization's products with their variants and stock; or all of them as CSV or
/// NDJSON [data:read].
#[utoipa::path(get, path = "/shop/products", tag = "shop", params(ProductsQuery),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, description = "`{data: [product], next_cursor}`; or every matching product as CSV or NDJSON", content(
        (Object = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming the parameter"),
    (status = 404, body = ErrorBody, description = "`not_found` (shop)")))]
pub async fn list_products(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> ApiResult<Response> {
    let (params, format) = read(&headers, q)?;
    let query = params.products().map_err(|e| ApiError(e.into()))?;
    let data = &state.platform().data;
    Ok(match format {
        ReadFormat::Json => ApiJson(data.list_products(&p, &query).await?).into_response(),
        f => streamed("products", f, data.export_products(&p, &query, f).await?),
    })
}

/// One product with its variants and stock [data:read].
#[utoipa::path(get, path = "/shop/products/{id}", tag = "shop",
    params(("id" = String, Path, description = "The product's source id"), ShopParam),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "The product with `variants` and `inventory_quantity`"),
    (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn get_product(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(s): ApiQuery<ShopParam>,
) -> ApiResult<ApiJson<ProductView>> {
    let data = &state.platform().data;
    Ok(ApiJson(
        data.get_product(&p, &id, s.shop_id.as_deref()).await?,
    ))
}

/// Your organization's customers with their order count, spending per currency and first
/// and last order; or all of them as CSV or NDJSON [data:read].
#[utoipa::path(get, path = "/shop/customers", tag = "shop", params(CustomersQuery),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, description = "`{data: [customer], next_cursor}`; or every matching customer as CSV or NDJSON", content(
        (Object = "application/json"), (String = "text/csv"), (String = "application/x-ndjson"))),
    (status = 400, body = ErrorBody, description = "`invalid_parameter` naming the parameter"),
    (status = 404, body = ErrorBody, description = "`not_found` (shop)")))]
pub async fn list_customers(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<ReadQuery>,
) -> ApiResult<Response> {
    let (params, format) = read(&headers, q)?;
    let query = params.customers().map_err(|e| ApiError(e.into()))?;
    let data = &state.platform().data;
    Ok(match format {
        ReadFormat::Json => ApiJson(data.list_customers(&p, &query).await?).into_response(),
        f => streamed("customers", f, data.export_customers(&p, &query, f).await?),
    })
}

/// One customer with their order figures [data:read].
#[utoipa::path(get, path = "/shop/customers/{id}", tag = "shop",
    params(("id" = String, Path, description = "The customer's source id"), ShopParam),
    security(("bearer" = []), ("api_key" = [])), responses(
    (status = 200, body = Object, description = "The customer with `order_count`, `total_spent` per currency, `first_order_at`, `last_order_at`"),
    (status = 404, body = ErrorBody, description = "`not_found`")))]
pub async fn get_customer(
    State(state): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
    ApiQuery(s): ApiQuery<ShopParam>,
) -> ApiResult<ApiJson<CustomerView>> {
    let data = &state.platform().data;
    Ok(ApiJson(
        data.get_customer(&p, &id, s.shop_id.as_deref()).await?,
    ))
}
