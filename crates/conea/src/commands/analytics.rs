//! `conea analytics REPORT`: asks a running server (`GET /v1/analytics/{report}`) and prints
//! the answer: JSON with `--json` or when stdout is not a terminal, else a table of each
//! currency's buckets (reports without buckets print as JSON). An error answer is one line
//! with the server's code, message and parameter.

use crate::cli::AnalyticsArgs;
use anyhow::{anyhow, Result};
use serde_json::Value;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(a: AnalyticsArgs) -> Result<ExitCode> {
    let params: Vec<(&str, &String)> = [
        ("from", &a.from),
        ("to", &a.to),
        ("timezone", &a.timezone),
        ("granularity", &a.granularity),
        ("compare", &a.compare),
        ("shop_id", &a.shop_id),
        ("sort", &a.sort),
        ("limit", &a.limit),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    .collect();
    let base = a.url.trim_end_matches('/');
    let url = format!("{base}/v1/analytics/{}", a.report);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let r = http
        .get(&url)
        .query(&params)
        .bearer_auth(&a.token)
        .send()
        .await
        .map_err(|e| anyhow!("{base} did not answer: {e}"))?;
    let body = super::answer::json(&url, r).await?;
    match (a.json || !std::io::stdout().is_terminal(), table(&body)) {
        (false, Some(t)) => print!("{t}"),
        _ => println!("{}", serde_json::to_string_pretty(&body)?),
    }
    Ok(ExitCode::SUCCESS)
}

fn cell(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("-".into()),
        _ => None,
    }
}

/// Each currency's buckets as aligned columns (`start`, then their scalar fields by name);
/// `None` for a report without `currencies[].buckets`.
pub fn table(body: &Value) -> Option<String> {
    let series = body["currencies"].as_array()?;
    let mut out = String::new();
    for s in series {
        let buckets = s["buckets"].as_array()?;
        let first = buckets.first().and_then(Value::as_object);
        // `start` first, then the other scalar fields by name.
        let mut columns: Vec<&String> = first
            .map(|o| {
                o.iter()
                    .filter(|(_, v)| cell(v).is_some())
                    .map(|(k, _)| k)
                    .collect()
            })
            .unwrap_or_default();
        columns.sort_by_key(|c| c.as_str() != "start");
        let rows: Vec<Vec<String>> = buckets
            .iter()
            .map(|b| {
                columns
                    .iter()
                    .map(|c| cell(&b[c.as_str()]).unwrap_or_default())
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                rows.iter()
                    .map(|r| r[i].len())
                    .max()
                    .unwrap_or(0)
                    .max(c.len())
            })
            .collect();
        out.push_str(&format!("{}\n", s["currency"].as_str().unwrap_or("?")));
        let line = |cells: Vec<&str>| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:>w$}", w = widths[i]))
                .collect::<Vec<_>>()
                .join("  ")
        };
        out.push_str(&line(columns.iter().map(|c| c.as_str()).collect()));
        out.push('\n');
        for r in &rows {
            out.push_str(&line(r.iter().map(String::as_str).collect()));
            out.push('\n');
        }
        out.push('\n');
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_print_as_aligned_columns_per_currency_and_other_shapes_do_not() {
        let body = serde_json::json!({"currencies": [{"currency": "JPY", "buckets": [
            {"start": "2025-01-01", "orders": 3, "net_sales": "1500", "change": {"orders": {}}},
            {"start": "2025-01-02", "orders": 12, "net_sales": "98000", "change": {}}
        ]}]});
        assert_eq!(
            table(&body).as_deref(),
            Some(
                "JPY\n     start  net_sales  orders\n2025-01-01       1500       3\n\
                 2025-01-02      98000      12\n\n"
            )
        );
        assert_eq!(
            table(&serde_json::json!({"currencies": [{"matrix": []}]})),
            None
        );
        assert_eq!(table(&serde_json::json!({"items": []})), None);
    }
}
