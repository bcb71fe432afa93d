//! The fixed catalogue the model sees: one tool per analytics report, the three filtered
//! lists (bounded rows) and the three lookups, each with the JSON Schema of its arguments.
//! No tool takes an organization, and none takes SQL: the caller's organization is the only
//! one any tool reads.

use crate::conversation::ToolDef;
use conea_shopdata::analytics::params::MAX_PRODUCT_LIMIT;
use conea_shopdata::analytics::Report;
use conea_shopdata::reads::query::Sort;
use conea_shopdata::reads::{CustomerSort, OrderSort, ProductSort};
use conea_shopdata::segments::SEGMENTS;
use serde_json::{json, Map, Value};

/// Rows a list tool answers at most (its `limit`), and its default.
pub const MAX_TOOL_ROWS: u32 = 50;
pub const DEFAULT_TOOL_ROWS: u32 = 20;

/// The three lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Orders,
    Products,
    Customers,
}

/// The three lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Order,
    Product,
    Customer,
}

/// A tool of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Report(Report),
    List(List),
    Get(Lookup),
}

impl Tool {
    pub fn all() -> Vec<Tool> {
        let mut all: Vec<Tool> = Report::ALL.into_iter().map(Tool::Report).collect();
        all.extend([List::Orders, List::Products, List::Customers].map(Tool::List));
        all.extend([Lookup::Order, Lookup::Product, Lookup::Customer].map(Tool::Get));
        all
    }

    pub fn name(self) -> &'static str {
        match self {
            Tool::Report(r) => r.as_str(),
            Tool::List(List::Orders) => "list_orders",
            Tool::List(List::Products) => "list_products",
            Tool::List(List::Customers) => "list_customers",
            Tool::Get(Lookup::Order) => "get_order",
            Tool::Get(Lookup::Product) => "get_product",
            Tool::Get(Lookup::Customer) => "get_customer",
        }
    }

    pub fn parse(name: &str) -> Option<Tool> {
        Tool::all().into_iter().find(|t| t.name() == name)
    }

    fn description(self) -> &'static str {
        match self {
            Tool::Report(Report::SalesOverTime) => "Revenue, orders, average order value, discounts and refunds per day, week or month, per currency, with totals; optionally compared with the previous period or year.",
            Tool::Report(Report::ProductPerformance) => "Products (and their variants) ranked by revenue, units, orders or refund rate over the range, per currency.",
            Tool::Report(Report::RefundsCancellations) => "Refunded and cancelled orders and amounts over the range, per day/week/month and currency, with rates.",
            Tool::Report(Report::SalesByHourWeekday) => "Orders and revenue by hour of the day and day of the week (local time).",
            Tool::Report(Report::RepeatPurchase) => "Customers who ordered in the range, how many came back, the repeat rate and time to the second order.",
            Tool::Report(Report::RfmSegments) => "Customers by RFM segment (champions, loyal, new, promising, at_risk, hibernating): counts and spending.",
            Tool::Report(Report::CustomerCohorts) => "Customers grouped by the month of their first order, and how many ordered again in each later month.",
            Tool::Report(Report::Inventory) => "Stock on hand per product and variant, recent units sold, and days of cover.",
            Tool::List(List::Orders) => "Orders matching filters (newest first by default), at most 50 rows, with the number of rows and whether more match.",
            Tool::List(List::Products) => "Products with their variants, prices and stock, matching filters; at most 50 rows.",
            Tool::List(List::Customers) => "Customers with their order count and spending, matching filters; at most 50 rows.",
            Tool::Get(Lookup::Order) => "One order by its id, with its line items and its customer.",
            Tool::Get(Lookup::Product) => "One product by its id, with its variants and stock.",
            Tool::Get(Lookup::Customer) => "One customer by id, with order count, spending per currency, first and last order.",
        }
    }

    /// The argument names the tool accepts (the schema's properties).
    pub fn params(self) -> Vec<&'static str> {
        self.properties().keys().map(|k| param_name(k)).collect()
    }

    fn properties(self) -> Map<String, Value> {
        let mut p = Map::new();
        let mut put = |name: &str, schema: Value| {
            p.insert(name.to_owned(), schema);
        };
        let text = |d: &str| json!({"type": "string", "description": d});
        let shop = text("Only this shop (`shop_…` id); default every shop of the question.");
        match self {
            Tool::Report(report) => {
                // The parameters of conea_shopdata::analytics::RawParams.
                put("from", text("First local day `YYYY-MM-DD` (or an RFC 3339 instant); default the question's period."));
                put("to", text("Last local day `YYYY-MM-DD`, included (or an RFC 3339 instant, excluded); default the question's period."));
                put(
                    "timezone",
                    text("IANA time zone the days follow, e.g. `Asia/Tokyo`; default UTC."),
                );
                put(
                    "granularity",
                    json!({"type": "string", "enum": ["day", "week", "month"], "description": "Buckets of the series; default day."}),
                );
                put(
                    "compare",
                    json!({"type": "string", "enum": ["previous_period", "previous_year"], "description": "Also give each figure's earlier value and the change."}),
                );
                put("shop_id", shop);
                if report == Report::ProductPerformance {
                    put(
                        "sort",
                        json!({"type": "string", "enum": ["revenue", "units", "orders", "refund_rate"], "description": "The ranking; default revenue."}),
                    );
                    put(
                        "limit",
                        json!({"type": "integer", "minimum": 1, "maximum": MAX_PRODUCT_LIMIT, "description": "Products listed per currency; default 50."}),
                    );
                }
            }
            Tool::List(list) => {
                put("shop_id", shop);
                put(
                    "created_from",
                    text("Created at or after (`YYYY-MM-DD` or RFC 3339)."),
                );
                put(
                    "created_to",
                    text("Created before (a date: on or before that day)."),
                );
                put("updated_since", text("Changed at the source at or after."));
                put(
                    "limit",
                    json!({"type": "integer", "minimum": 1, "maximum": MAX_TOOL_ROWS, "description": format!("Rows, 1 to {MAX_TOOL_ROWS}; default {DEFAULT_TOOL_ROWS}.")}),
                );
                let sorts: &[&str] = match list {
                    List::Orders => OrderSort::NAMES,
                    List::Products => ProductSort::NAMES,
                    List::Customers => CustomerSort::NAMES,
                };
                put(
                    "sort",
                    json!({"type": "string", "enum": sorts, "description": "The order of the rows; `-` is descending."}),
                );
                match list {
                    List::Orders => {
                        put(
                            "q",
                            text("Prefix of the order name (`1001` finds `#1001`) or e-mail."),
                        );
                        put(
                            "financial_status",
                            text("`paid`, `pending`, `refunded`, `partially_refunded`, …"),
                        );
                        put("fulfillment_status", text("`fulfilled`, `partial`, …"));
                        put(
                            "customer_id",
                            json!({"type": "integer", "description": "Orders of this customer."}),
                        );
                        put(
                            "product_id",
                            json!({"type": "integer", "description": "Orders with a line item of this product."}),
                        );
                    }
                    List::Products => {
                        put("q", text("Prefix of the title or a variant SKU."));
                        put(
                            "status",
                            json!({"type": "string", "enum": ["active", "draft", "archived"]}),
                        );
                        put("vendor", text("Products of this vendor (exact)."));
                        put("product_type", text("Products of this type (exact)."));
                    }
                    List::Customers => {
                        put("q", text("Prefix of the e-mail, first or last name."));
                        put(
                            "segment",
                            json!({"type": "string", "enum": SEGMENTS, "description": "Customers of this RFM segment now."}),
                        );
                    }
                }
            }
            Tool::Get(_) => {
                put(
                    "id",
                    json!({"type": "integer", "description": "The record's id (as in the lists)."}),
                );
                put("shop_id", text("The shop, when several of the question's shops have a record with this id."));
            }
        }
        p
    }

    fn required(self) -> Vec<&'static str> {
        match self {
            Tool::Get(_) => vec!["id"],
            _ => Vec::new(),
        }
    }

    /// The tool as the model sees it.
    pub fn def(self) -> ToolDef {
        ToolDef {
            name: self.name().to_owned(),
            description: self.description().to_owned(),
            parameters: json!({
                "type": "object",
                "properties": Value::Object(self.properties()),
                "required": self.required(),
                "additionalProperties": false,
            }),
        }
    }
}

/// The `'static` spelling of a property name (they are all literals of this file).
fn param_name(k: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "from",
        "to",
        "timezone",
        "granularity",
        "compare",
        "shop_id",
        "sort",
        "limit",
        "created_from",
        "created_to",
        "updated_since",
        "q",
        "financial_status",
        "fulfillment_status",
        "customer_id",
        "product_id",
        "status",
        "vendor",
        "product_type",
        "segment",
        "id",
    ];
    NAMES
        .iter()
        .copied()
        .find(|n| *n == k)
        .unwrap_or("arguments")
}

/// Every tool of the catalogue.
pub fn catalogue() -> Vec<ToolDef> {
    Tool::all().into_iter().map(Tool::def).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use conea_shopdata::analytics::params::NumberOrText;
    use conea_shopdata::analytics::RawParams;
    use conea_shopdata::reads::ListParams;

    #[test]
    fn every_report_is_a_tool_and_names_are_unique() {
        let names: Vec<String> = catalogue().into_iter().map(|t| t.name).collect();
        for r in Report::ALL {
            assert!(names.iter().any(|n| n == r.as_str()), "{}", r.as_str());
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert_eq!(names.len(), Report::ALL.len() + 6);
    }

    /// The report tools' properties are exactly the fields of the reports' real
    /// parameters (`RawParams`), `sort`/`limit` only where the report takes them.
    #[test]
    fn report_schemas_are_the_report_parameters() {
        let full = RawParams {
            from: Some("x".into()),
            to: Some("x".into()),
            timezone: Some("x".into()),
            granularity: Some("x".into()),
            compare: Some("x".into()),
            shop_id: Some("x".into()),
            sort: Some("x".into()),
            limit: Some(NumberOrText::Number(1)),
        };
        let Value::Object(fields) = serde_json::to_value(&full).expect("json") else {
            panic!("an object");
        };
        for r in Report::ALL {
            let mut props = Tool::Report(r).params();
            props.sort();
            let mut expected: Vec<&str> = fields
                .keys()
                .map(|k| param_name(k))
                .filter(|k| r == Report::ProductPerformance || !["sort", "limit"].contains(k))
                .collect();
            expected.sort();
            assert_eq!(props, expected, "{}", r.as_str());
        }
    }

    /// The list tools' properties are the read API's filters (less its page cursor and
    /// format), and every one is a `ListParams` field.
    #[test]
    fn list_schemas_are_read_api_filters() {
        for list in [List::Orders, List::Products, List::Customers] {
            let tool = Tool::List(list);
            let args: Map<String, Value> = tool
                .params()
                .into_iter()
                .map(|p| (p.to_owned(), Value::from("1")))
                .collect();
            let parsed: Result<ListParams, _> = serde_json::from_value(Value::Object(args));
            assert!(parsed.is_ok(), "{}", tool.name());
            assert!(!tool.params().contains(&"cursor") && !tool.params().contains(&"format"));
        }
        assert!(Tool::List(List::Orders)
            .params()
            .contains(&"financial_status"));
        assert!(Tool::List(List::Customers).params().contains(&"segment"));
        assert!(!Tool::List(List::Products).params().contains(&"segment"));
    }

    #[test]
    fn no_tool_takes_an_organization() {
        for t in catalogue() {
            let text = t.parameters.to_string();
            assert!(!text.contains("org"), "{}: {text}", t.name);
        }
    }

    #[test]
    fn lookups_require_an_id_and_schemas_refuse_other_properties() {
        let d = Tool::Get(Lookup::Order).def();
        assert_eq!(d.parameters["required"], json!(["id"]));
        for t in catalogue() {
            assert_eq!(t.parameters["additionalProperties"], false, "{}", t.name);
        }
    }
}
