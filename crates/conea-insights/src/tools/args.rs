//! A tool call's arguments checked and turned into the typed parameters of the function it
//! calls. A bad argument is a [`ToolError`] the model reads (and may correct), never a
//! failure of the question.

use super::catalogue::{Tool, DEFAULT_TOOL_ROWS, MAX_TOOL_ROWS};
use conea_core::clock::EpochMs;
use conea_shopdata::analytics::params::NumberOrText;
use conea_shopdata::analytics::{RawParams, Report};
use conea_shopdata::reads::ListParams;
use serde_json::{Map, Value};

/// What the model is told when a call cannot run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub String);

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        ToolError(message.into())
    }
}

/// What the question fixes for every call: its shop (when given, the only one a call may
/// read) and its period (the reports' default range).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub shop_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The arguments as an object whose keys are all the tool's own.
fn object(tool: Tool, args: &Value) -> Result<Map<String, Value>, ToolError> {
    let map = match args {
        Value::Object(m) => m.clone(),
        Value::Null => Map::new(),
        _ => return Err(ToolError::new("The arguments must be a JSON object.")),
    };
    let known = tool.params();
    if let Some(k) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ToolError::new(format!(
            "`{k}` is not an argument of {}; its arguments are {}.",
            tool.name(),
            known.join(", ")
        )));
    }
    Ok(map)
}

/// A value as text: strings as they are, whole numbers written out.
fn text(key: &str, v: &Value) -> Result<Option<String>, ToolError> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        _ => Err(ToolError::new(format!(
            "`{key}` must be a string or a whole number."
        ))),
    }
}

/// The question's shop wins: a call may name it, or no shop, never another one.
fn shop(map: &mut Map<String, Value>, scope: &Scope) -> Result<(), ToolError> {
    let Some(fixed) = &scope.shop_id else {
        return Ok(());
    };
    match map
        .get("shop_id")
        .map(|v| text("shop_id", v))
        .transpose()?
        .flatten()
    {
        Some(given) if given.trim() != fixed => Err(ToolError::new(format!(
            "This question is about shop {fixed} only; leave `shop_id` out."
        ))),
        _ => {
            map.insert("shop_id".into(), Value::String(fixed.clone()));
            Ok(())
        }
    }
}

/// A report's parameters, with the question's period and shop where the call gives none,
/// checked as the report will check them.
pub fn report_params(
    report: Report,
    args: &Value,
    scope: &Scope,
    now: EpochMs,
) -> Result<(RawParams, Value), ToolError> {
    let tool = Tool::Report(report);
    let mut map = object(tool, args)?;
    shop(&mut map, scope)?;
    for (key, default) in [("from", &scope.from), ("to", &scope.to)] {
        if let (false, Some(d)) = (map.get(key).is_some_and(|v| !v.is_null()), default) {
            map.insert(key.into(), Value::String(d.clone()));
        }
    }
    let get = |k: &str| -> Result<Option<String>, ToolError> {
        map.get(k)
            .map(|v| text(k, v))
            .transpose()
            .map(Option::flatten)
    };
    let raw = RawParams {
        from: get("from")?,
        to: get("to")?,
        timezone: get("timezone")?,
        granularity: get("granularity")?,
        compare: get("compare")?,
        shop_id: get("shop_id")?,
        sort: get("sort")?,
        limit: get("limit")?.map(NumberOrText::Text),
    };
    let parsed = raw
        .parse(now)
        .map_err(|e| ToolError::new(format!("`{}`: {}", e.param, e.message)))?;
    report
        .check(&parsed)
        .map_err(|e| ToolError::new(format!("`{}`: {}", e.param, e.message)))?;
    Ok((raw, Value::Object(map)))
}

/// A list's query parameters (bounded rows), with the question's shop.
pub fn list_params(
    tool: Tool,
    args: &Value,
    scope: &Scope,
) -> Result<(ListParams, Value), ToolError> {
    let mut map = object(tool, args)?;
    shop(&mut map, scope)?;
    let limit = match map.get("limit") {
        None | Some(Value::Null) => DEFAULT_TOOL_ROWS,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .filter(|n| (1..=u64::from(MAX_TOOL_ROWS)).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| {
                ToolError::new(format!(
                    "`limit` must be a whole number from 1 to {MAX_TOOL_ROWS}."
                ))
            })?,
    };
    map.insert("limit".into(), Value::from(limit));
    let mut texts = Map::new();
    for (k, v) in &map {
        if let Some(t) = text(k, v)? {
            texts.insert(k.clone(), Value::String(t));
        }
    }
    let params: ListParams = serde_json::from_value(Value::Object(texts))
        .map_err(|e| ToolError::new(format!("The arguments do not fit: {e}")))?;
    Ok((params, Value::Object(map)))
}

/// A lookup's id and shop.
pub fn lookup_params(
    tool: Tool,
    args: &Value,
    scope: &Scope,
) -> Result<(String, Option<String>, Value), ToolError> {
    let mut map = object(tool, args)?;
    shop(&mut map, scope)?;
    let id = match map.get("id").map(|v| text("id", v)).transpose()?.flatten() {
        Some(id) if !id.trim().is_empty() => id,
        _ => return Err(ToolError::new("`id` is required: the record's id.")),
    };
    let shop_id = map
        .get("shop_id")
        .map(|v| text("shop_id", v))
        .transpose()?
        .flatten();
    Ok((id, shop_id, Value::Object(map)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::catalogue::{List, Lookup};
    use serde_json::json;

    const NOW: EpochMs = 1_772_323_200_000; // 2026-03-01T00:00:00Z

    fn scope() -> Scope {
        Scope {
            shop_id: None,
            from: Some("2026-02-01".into()),
            to: Some("2026-02-28".into()),
        }
    }

    #[test]
    fn a_report_call_gets_the_question_s_period_unless_it_names_one() {
        let (raw, effective) =
            report_params(Report::SalesOverTime, &json!({}), &scope(), NOW).unwrap();
        assert_eq!(
            (raw.from.as_deref(), raw.to.as_deref()),
            (Some("2026-02-01"), Some("2026-02-28"))
        );
        assert_eq!(effective, json!({"from": "2026-02-01", "to": "2026-02-28"}));
        let (raw, _) = report_params(
            Report::SalesOverTime,
            &json!({"from": "2026-01-01", "granularity": "week"}),
            &scope(),
            NOW,
        )
        .unwrap();
        assert_eq!(raw.from.as_deref(), Some("2026-01-01"));
        assert_eq!(raw.granularity.as_deref(), Some("week"));
    }

    #[test]
    fn bad_report_arguments_are_tool_errors_naming_the_argument() {
        for (report, args, named) in [
            (
                Report::SalesOverTime,
                json!({"granularity": "hour"}),
                "granularity",
            ),
            (Report::SalesOverTime, json!({"from": "yesterday"}), "from"),
            (Report::SalesOverTime, json!({"sort": "units"}), "sort"),
            (Report::SalesOverTime, json!({"org_id": "org_1"}), "org_id"),
            (Report::SalesOverTime, json!({"compare": true}), "compare"),
            (Report::ProductPerformance, json!({"limit": 0}), "limit"),
            (
                Report::Inventory,
                json!({"timezone": "Mars/Base"}),
                "timezone",
            ),
        ] {
            let e = report_params(report, &args, &scope(), NOW).unwrap_err();
            assert!(e.0.contains(named), "{args}: {}", e.0);
        }
        let e = report_params(Report::SalesOverTime, &json!("all"), &scope(), NOW).unwrap_err();
        assert!(e.0.contains("JSON object"));
    }

    #[test]
    fn the_question_s_shop_binds_every_call() {
        let s = Scope {
            shop_id: Some("shop_a".into()),
            ..Scope::default()
        };
        let (p, _) = list_params(Tool::List(List::Orders), &json!({}), &s).unwrap();
        assert_eq!(p.shop_id.as_deref(), Some("shop_a"));
        let e =
            list_params(Tool::List(List::Orders), &json!({"shop_id": "shop_b"}), &s).unwrap_err();
        assert!(e.0.contains("shop_a"), "{}", e.0);
        let (_, shop, _) = lookup_params(Tool::Get(Lookup::Order), &json!({"id": 7}), &s).unwrap();
        assert_eq!(shop.as_deref(), Some("shop_a"));
    }

    #[test]
    fn list_rows_are_bounded_and_default_to_twenty() {
        let (p, eff) =
            list_params(Tool::List(List::Products), &json!({}), &Scope::default()).unwrap();
        assert_eq!(p.limit.as_deref(), Some("20"));
        assert_eq!(eff["limit"], 20);
        for bad in [json!(0), json!(51), json!(500), json!("many"), json!(2.5)] {
            let e = list_params(
                Tool::List(List::Products),
                &json!({"limit": bad}),
                &Scope::default(),
            )
            .unwrap_err();
            assert!(e.0.contains("limit"), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn list_filters_of_another_list_are_refused() {
        let e = list_params(
            Tool::List(List::Products),
            &json!({"financial_status": "paid"}),
            &Scope::default(),
        )
        .unwrap_err();
        assert!(e.0.contains("financial_status"));
        let (p, _) = list_params(
            Tool::List(List::Orders),
            &json!({"financial_status": "paid", "customer_id": 42}),
            &Scope::default(),
        )
        .unwrap();
        assert_eq!(p.customer_id.as_deref(), Some("42"));
        assert!(p.orders().is_ok());
    }

    #[test]
    fn a_lookup_needs_an_id() {
        let e =
            lookup_params(Tool::Get(Lookup::Product), &json!({}), &Scope::default()).unwrap_err();
        assert!(e.0.contains("id"));
        let (id, shop, _) = lookup_params(
            Tool::Get(Lookup::Product),
            &json!({"id": "12"}),
            &Scope::default(),
        )
        .unwrap();
        assert_eq!((id.as_str(), shop), ("12", None));
    }
}
