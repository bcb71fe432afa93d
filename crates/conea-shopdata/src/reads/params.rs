//! A list request as a query string gives it (every value text) and its parsing into the
//! typed queries of [`super::query`]. Each error names the parameter to fix; a filter of
//! another list (`financial_status` on products) is refused rather than ignored.

use super::query::{
    CustomerFilter, CustomerQuery, ListQuery, OrderFilter, OrderQuery, ProductFilter, ProductQuery,
    SegmentFilter, Sort, DEFAULT_LIMIT, MAX_LIMIT,
};
use crate::fields;
use conea_core::clock::EpochMs;
use serde::Deserialize;

/// The query parameters of `GET /v1/shop/{orders,products,customers}`, as text.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListParams {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub sort: Option<String>,
    pub format: Option<String>,
    pub shop_id: Option<String>,
    pub created_from: Option<String>,
    pub created_to: Option<String>,
    pub updated_since: Option<String>,
    pub q: Option<String>,
    // Orders
    pub financial_status: Option<String>,
    pub fulfillment_status: Option<String>,
    pub customer_id: Option<String>,
    pub product_id: Option<String>,
    // Products
    pub status: Option<String>,
    pub vendor: Option<String>,
    pub product_type: Option<String>,
    // Customers
    pub segment: Option<String>,
}

/// A parameter that is wrong: its name and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
}

impl ParamError {
    fn new(param: &'static str, message: impl Into<String>) -> Self {
        ParamError {
            param,
            message: message.into(),
        }
    }
}

impl From<ParamError> for conea_core::CoreError {
    fn from(e: ParamError) -> Self {
        conea_core::CoreError::invalid(e.param, e.message)
    }
}

/// How a list answers: a JSON page, or every matching row as CSV or NDJSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFormat {
    Json,
    Csv,
    Ndjson,
}

impl ReadFormat {
    /// `?format=`: `json`, `csv` or `ndjson`.
    pub fn parse(text: &str) -> Result<ReadFormat, ParamError> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(ReadFormat::Json),
            "csv" => Ok(ReadFormat::Csv),
            "ndjson" | "jsonl" => Ok(ReadFormat::Ndjson),
            other => Err(ParamError::new(
                "format",
                format!("`{other}` is not a format: use json, csv or ndjson."),
            )),
        }
    }

    /// From an `Accept` header: CSV or NDJSON when the client names one of them (the first
    /// named wins), else JSON.
    pub fn from_accept(accept: &str) -> ReadFormat {
        for part in accept.split(',') {
            let essence = part.split(';').next().unwrap_or("").trim();
            match essence.to_ascii_lowercase().as_str() {
                "text/csv" => return ReadFormat::Csv,
                "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                    return ReadFormat::Ndjson
                }
                _ => {}
            }
        }
        ReadFormat::Json
    }

    /// `?format=` when given, else the `Accept` header.
    pub fn choose(param: Option<&str>, accept: Option<&str>) -> Result<ReadFormat, ParamError> {
        match param.map(str::trim).filter(|s| !s.is_empty()) {
            Some(p) => ReadFormat::parse(p),
            None => Ok(accept
                .map(ReadFormat::from_accept)
                .unwrap_or(ReadFormat::Json)),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ReadFormat::Json => "application/json",
            ReadFormat::Csv => "text/csv; charset=utf-8",
            ReadFormat::Ndjson => "application/x-ndjson",
        }
    }
}

fn text(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn owned(v: &Option<String>) -> Option<String> {
    text(v).map(str::to_owned)
}

fn lower(v: &Option<String>) -> Option<String> {
    text(v).map(str::to_ascii_lowercase)
}

fn instant(
    param: &'static str,
    v: &Option<String>,
    end_of_day: bool,
) -> Result<Option<EpochMs>, ParamError> {
    text(v)
        .map(|t| {
            fields::period_bound(t, end_of_day).map_err(|e| {
                ParamError::new(
                    param,
                    format!("`{param}`: {e} (e.g. 2026-03-01 or 2026-03-01T09:00:00Z)"),
                )
            })
        })
        .transpose()
}

fn source_id(param: &'static str, v: &Option<String>) -> Result<Option<i64>, ParamError> {
    text(v)
        .map(|t| fields::id(param, t).map_err(|e| ParamError::new(param, e)))
        .transpose()
}

fn refuse(list: &str, params: &[(&'static str, &Option<String>)]) -> Result<(), ParamError> {
    match params.iter().find(|(_, v)| text(v).is_some()) {
        Some((name, _)) => Err(ParamError::new(
            name,
            format!("`{name}` is not a filter of the {list} list."),
        )),
        None => Ok(()),
    }
}

struct Common {
    created_from: Option<EpochMs>,
    created_to: Option<EpochMs>,
    updated_since: Option<EpochMs>,
}

impl ListParams {
    /// The page size: 1 to 250, default 50.
    pub fn limit(&self) -> Result<u32, ParamError> {
        match text(&self.limit) {
            None => Ok(DEFAULT_LIMIT),
            Some(t) => t
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ParamError::new(
                        "limit",
                        format!("`limit` must be an integer from 1 to {MAX_LIMIT}, not `{t}`."),
                    )
                }),
        }
    }

    fn sort<S: Sort + Default>(&self) -> Result<S, ParamError> {
        match text(&self.sort) {
            None => Ok(S::default()),
            Some(t) => S::parse(t).ok_or_else(|| {
                ParamError::new(
                    "sort",
                    format!(
                        "`{t}` is not a sort of this list: use {}.",
                        S::NAMES.join(", ")
                    ),
                )
            }),
        }
    }

    fn common(&self) -> Result<Common, ParamError> {
        let c = Common {
            created_from: instant("created_from", &self.created_from, false)?,
            created_to: instant("created_to", &self.created_to, true)?,
            updated_since: instant("updated_since", &self.updated_since, false)?,
        };
        if let (Some(f), Some(t)) = (c.created_from, c.created_to) {
            if f >= t {
                return Err(ParamError::new(
                    "created_from",
                    "`created_from` must be before `created_to`.",
                ));
            }
        }
        Ok(c)
    }

    fn query<F, S: Sort + Default>(&self, filter: F) -> Result<ListQuery<F, S>, ParamError> {
        if let Some(f) = text(&self.format) {
            ReadFormat::parse(f)?;
        }
        Ok(ListQuery {
            shop: owned(&self.shop_id),
            filter,
            sort: self.sort()?,
            cursor: owned(&self.cursor),
            limit: self.limit()?,
        })
    }

    pub fn orders(&self) -> Result<OrderQuery, ParamError> {
        refuse(
            "orders",
            &[
                ("segment", &self.segment),
                ("status", &self.status),
                ("vendor", &self.vendor),
                ("product_type", &self.product_type),
            ],
        )?;
        let c = self.common()?;
        let filter = OrderFilter {
            created_from: c.created_from,
            created_to: c.created_to,
            updated_since: c.updated_since,
            financial_status: lower(&self.financial_status),
            fulfillment_status: lower(&self.fulfillment_status),
            customer_id: source_id("customer_id", &self.customer_id)?,
            product_id: source_id("product_id", &self.product_id)?,
            q: owned(&self.q),
        };
        self.query(filter)
    }

    fn refuse_order_filters(&self, list: &str) -> Result<(), ParamError> {
        refuse(
            list,
            &[
                ("financial_status", &self.financial_status),
                ("fulfillment_status", &self.fulfillment_status),
                ("customer_id", &self.customer_id),
                ("product_id", &self.product_id),
            ],
        )
    }

    pub fn products(&self) -> Result<ProductQuery, ParamError> {
        self.refuse_order_filters("products")?;
        refuse("products", &[("segment", &self.segment)])?;
        let c = self.common()?;
        let filter = ProductFilter {
            created_from: c.created_from,
            created_to: c.created_to,
            updated_since: c.updated_since,
            status: lower(&self.status),
            vendor: owned(&self.vendor),
            product_type: owned(&self.product_type),
            q: owned(&self.q),
        };
        self.query(filter)
    }

    pub fn customers(&self) -> Result<CustomerQuery, ParamError> {
        self.refuse_order_filters("customers")?;
        refuse(
            "customers",
            &[
                ("status", &self.status),
                ("vendor", &self.vendor),
                ("product_type", &self.product_type),
            ],
        )?;
        let c = self.common()?;
        let segment = match text(&self.segment) {
            None => None,
            Some(name) => {
                let known = crate::segments::SEGMENTS;
                let name = known.iter().find(|s| **s == name).ok_or_else(|| {
                    ParamError::new(
                        "segment",
                        format!(
                            "`{name}` is not a segment; the segments are {}",
                            known.join(", ")
                        ),
                    )
                })?;
                Some(SegmentFilter {
                    name,
                    cells: Vec::new(),
                })
            }
        };
        let filter = CustomerFilter {
            created_from: c.created_from,
            created_to: c.created_to,
            updated_since: c.updated_since,
            q: owned(&self.q),
            segment,
        };
        self.query(filter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reads::query::OrderSort;

    fn params(pairs: &[(&str, &str)]) -> ListParams {
        let map: serde_json::Map<String, serde_json::Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
            .collect();
        serde_json::from_value(serde_json::Value::Object(map)).expect("params")
    }

    fn param_of<T: std::fmt::Debug>(r: Result<T, ParamError>) -> &'static str {
        r.expect_err("refused").param
    }

    #[test]
    fn order_filters_parse_into_the_typed_query() {
        let q = params(&[
            ("created_from", "2026-03-01"),
            ("created_to", "2026-03-01"),
            ("financial_status", "Paid"),
            ("customer_id", "42"),
            ("sort", "-total_price"),
            ("limit", "250"),
        ])
        .orders()
        .expect("valid");
        assert_eq!(q.filter.created_from, Some(1_772_323_200_000));
        // A `created_to` date includes its whole day.
        assert_eq!(q.filter.created_to, Some(1_772_323_200_000 + 86_400_000));
        assert_eq!(q.filter.financial_status.as_deref(), Some("paid"));
        assert_eq!(q.filter.customer_id, Some(42));
        assert_eq!((q.sort, q.limit), (OrderSort::TotalPriceDesc, 250));
    }

    #[test]
    fn bad_values_name_their_parameter() {
        assert_eq!(param_of(params(&[("limit", "0")]).orders()), "limit");
        assert_eq!(param_of(params(&[("limit", "300")]).orders()), "limit");
        assert_eq!(param_of(params(&[("limit", "ten")]).customers()), "limit");
        assert_eq!(param_of(params(&[("sort", "price")]).orders()), "sort");
        assert_eq!(
            param_of(params(&[("sort", "total_price")]).products()),
            "sort"
        );
        assert_eq!(param_of(params(&[("format", "xml")]).orders()), "format");
        assert_eq!(
            param_of(params(&[("created_from", "yesterday")]).orders()),
            "created_from"
        );
        assert_eq!(
            param_of(params(&[("updated_since", "2026-13-01")]).products()),
            "updated_since"
        );
        assert_eq!(
            param_of(
                params(&[("created_from", "2026-03-02"), ("created_to", "2026-03-01")]).orders()
            ),
            "created_from"
        );
        assert_eq!(
            param_of(params(&[("customer_id", "x")]).orders()),
            "customer_id"
        );
        assert_eq!(
            param_of(params(&[("financial_status", "paid")]).products()),
            "financial_status"
        );
        assert_eq!(
            param_of(params(&[("vendor", "Acme")]).customers()),
            "vendor"
        );
    }

    #[test]
    fn the_format_parameter_wins_over_accept_and_accept_defaults_to_json() {
        assert_eq!(
            ReadFormat::choose(Some("csv"), Some("application/json")),
            Ok(ReadFormat::Csv)
        );
        assert_eq!(
            ReadFormat::choose(None, Some("application/x-ndjson, */*;q=0.1")),
            Ok(ReadFormat::Ndjson)
        );
        assert_eq!(
            ReadFormat::choose(None, Some("text/csv; charset=utf-8")),
            Ok(ReadFormat::Csv)
        );
        assert_eq!(
            ReadFormat::choose(None, Some("text/html")),
            Ok(ReadFormat::Json)
        );
        assert_eq!(ReadFormat::choose(None, None), Ok(ReadFormat::Json));
        assert!(ReadFormat::choose(Some("xlsx"), None).is_err());
    }
}
