//! A report's JSON turned into what each channel shows: a summary table (text and HTML),
//! a bar chart of net sales per bucket for `sales_over_time` (an inline SVG in the HTML
//! e-mail, where a chart says more than a table of thirty rows), Slack Block Kit, and the
//! webhook event body. Pure functions; no I/O.

use conea_core::clock::{rfc3339, EpochMs};
use serde_json::{json, Value};

/// Rows of the summary table at most (the webhook carries the whole report).
const MAX_ROWS: usize = 40;

/// What a delivered report says, once rendered.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub rows: Vec<(String, String)>,
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("—".into()),
        _ => None,
    }
}

/// The figures worth a line: top-level values, the scalars of top-level objects, and each
/// currency's totals; longer lists are counted.
pub fn summary_rows(report: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let Some(top) = report.as_object() else {
        return rows;
    };
    for (key, v) in top {
        if matches!(key.as_str(), "report" | "from" | "to" | "timezone") {
            continue;
        }
        if let Some(s) = scalar(v) {
            rows.push((key.clone(), s));
        } else if let Some(obj) = v.as_object() {
            for (k, inner) in obj {
                if let Some(s) = scalar(inner) {
                    rows.push((format!("{key}.{k}"), s));
                }
            }
        } else if let Some(items) = v.as_array() {
            let mut described = false;
            for item in items {
                let (Some(cur), Some(totals)) = (
                    item.get("currency").and_then(Value::as_str),
                    item.get("totals").and_then(Value::as_object),
                ) else {
                    continue;
                };
                described = true;
                for (k, inner) in totals {
                    if let Some(s) = scalar(inner) {
                        rows.push((format!("{cur} {k}"), s));
                    }
                }
            }
            if !described {
                rows.push((key.clone(), format!("{} item(s)", items.len())));
            }
        }
    }
    rows.truncate(MAX_ROWS);
    rows
}

/// `(label, net sales)` per bucket of the first currency of a `sales_over_time` report.
pub fn chart_series(report: &Value) -> Option<(String, Vec<(String, f64)>)> {
    if report.get("report")?.as_str()? != "sales_over_time" {
        return None;
    }
    let series = report.get("currencies")?.as_array()?.first()?;
    let currency = series.get("currency")?.as_str()?.to_owned();
    let points: Vec<(String, f64)> = series
        .get("buckets")?
        .as_array()?
        .iter()
        .filter_map(|b| {
            let start = b.get("start")?.as_str()?.to_owned();
            let net = b.get("figures")?.get("net_sales")?.as_str()?.parse().ok()?;
            Some((start, net))
        })
        .collect();
    (!points.is_empty()).then_some((currency, points))
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A bar chart (600 × 200) of the points, one bar per bucket, the largest full height.
pub fn svg_bar_chart(title: &str, points: &[(String, f64)]) -> String {
    let (w, h, pad) = (600.0_f64, 200.0_f64, 20.0_f64);
    let max = points.iter().map(|p| p.1).fold(0.0_f64, f64::max);
    let n = points.len().max(1) as f64;
    let slot = (w - 2.0 * pad) / n;
    let mut bars = String::new();
    for (i, (label, v)) in points.iter().enumerate() {
        let bh = if max > 0.0 {
            (v.max(0.0) / max) * (h - 2.0 * pad)
        } else {
            0.0
        };
        let x = pad + i as f64 * slot;
        bars.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#4f7cac\"><title>{}: {v}</title></rect>",
            h - pad - bh,
            (slot * 0.8).max(1.0),
            escape_html(label)
        ));
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{t}\"><text x=\"{pad}\" y=\"14\" font-size=\"12\">{t}</text>{bars}</svg>",
        t = escape_html(title)
    )
}

/// The e-mail subject, text and HTML of a report.
pub fn render(report_name: &str, report: &Value, slot: Option<EpochMs>) -> Rendered {
    let range = match (
        report.get("from").and_then(Value::as_str),
        report.get("to").and_then(Value::as_str),
    ) {
        (Some(f), Some(t)) => {
            let tz = report
                .get("timezone")
                .and_then(Value::as_str)
                .unwrap_or("UTC");
            format!("{f} to {t} ({tz})")
        }
        _ => String::new(),
    };
    let rows = summary_rows(report);
    let when = slot.map(rfc3339).unwrap_or_else(|| "run now".into());
    let subject = format!("Conea report: {report_name} ({when})");
    let mut text = format!("{subject}\n");
    if !range.is_empty() {
        text.push_str(&format!("Range: {range}\n"));
    }
    text.push('\n');
    for (k, v) in &rows {
        text.push_str(&format!("{k}: {v}\n"));
    }
    let mut html = format!(
        "<html><body><h2>{}</h2>",
        escape_html(&format!("Conea report: {report_name}"))
    );
    if !range.is_empty() {
        html.push_str(&format!("<p>{}</p>", escape_html(&range)));
    }
    if let Some((currency, points)) = chart_series(report) {
        html.push_str(&svg_bar_chart(&format!("Net sales ({currency})"), &points));
    }
    html.push_str("<table>");
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td align=\"right\">{}</td></tr>",
            escape_html(k),
            escape_html(v)
        ));
    }
    html.push_str("</table></body></html>");
    Rendered {
        subject,
        text,
        html,
        rows,
    }
}

/// The digest (`conea_insights::digest::Digest` as JSON): the narrative (or the note saying
/// it is unavailable), each currency's figures against the period before, then the
/// anomalies, as rows the text, the HTML and Slack all show.
pub fn render_digest(digest: &Value, slot: Option<EpochMs>) -> Rendered {
    let s = |key: &str| digest.get(key).and_then(Value::as_str).unwrap_or("");
    let ja = s("language") == "ja";
    let range = format!("{} – {} ({})", s("from"), s("to"), s("timezone"));
    let when = slot.map(rfc3339).unwrap_or_else(|| "run now".into());
    let subject = if ja {
        format!("Conea ダイジェスト: {range}")
    } else {
        format!("Conea digest: {range} ({when})")
    };
    let mut rows: Vec<(String, String)> = Vec::new();
    let narrative = digest
        .get("narrative")
        .and_then(Value::as_str)
        .or_else(|| digest.get("narrative_note").and_then(Value::as_str))
        .unwrap_or("")
        .to_string();
    let previous = format!("{} – {}", s("previous_from"), s("previous_to"));
    for c in digest
        .get("currencies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let cur = c.get("currency").and_then(Value::as_str).unwrap_or("");
        for key in ["net_sales", "orders", "average_order_value", "refunds"] {
            let now = c.pointer(&format!("/current/{key}")).and_then(scalar);
            let Some(now) = now else { continue };
            let before = c
                .pointer(&format!("/previous/{key}"))
                .and_then(scalar)
                .unwrap_or_else(|| "—".into());
            let pct = c
                .pointer(&format!("/change/{key}/percent"))
                .and_then(Value::as_f64)
                .map(|p| format!(", {p:+}%"))
                .unwrap_or_default();
            rows.push((format!("{cur} {key}"), format!("{now} ({before}{pct})")));
        }
    }
    for a in digest
        .pointer("/anomalies/days")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let g = |k: &str| a.get(k).and_then(scalar).unwrap_or_default();
        rows.push((
            format!("{} {} {}", g("date"), g("currency"), g("metric")),
            format!(
                "{} ({} {} – {})",
                g("value"),
                g("direction"),
                g("low"),
                g("high")
            ),
        ));
    }
    for p in digest
        .pointer("/anomalies/stopped_products")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let g = |k: &str| p.get(k).and_then(scalar).unwrap_or_default();
        let label = if ja {
            "販売停止"
        } else {
            "stopped selling"
        };
        rows.push((
            format!("{label}: {}", g("title")),
            format!("{} ({})", g("product_id"), g("active_days")),
        ));
    }
    rows.truncate(MAX_ROWS);
    let compared = if ja {
        format!("比較期間: {previous}")
    } else {
        format!("Compared with {previous}")
    };
    let mut text = format!("{subject}\n{compared}\n\n{narrative}\n\n");
    for (k, v) in &rows {
        text.push_str(&format!("{k}: {v}\n"));
    }
    let mut html = format!(
        "<html><body><h2>{}</h2><p>{}</p><p>{}</p><table>",
        escape_html(&subject),
        escape_html(&compared),
        escape_html(&narrative)
    );
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td align=\"right\">{}</td></tr>",
            escape_html(k),
            escape_html(v)
        ));
    }
    html.push_str("</table></body></html>");
    // Slack shows the rows: the narrative goes first among them.
    rows.insert(0, (compared, narrative));
    Rendered {
        subject,
        text,
        html,
        rows,
    }
}

fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: the subject as header, the rows as a code block.
pub fn slack_message(r: &Rendered) -> Value {
    let header: String = r.subject.chars().take(150).collect();
    let table: String = r
        .rows
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let body: String = format!("```{}```", escape_mrkdwn(&table))
        .chars()
        .take(3000)
        .collect();
    json!({
        "text": r.subject,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": header}},
            {"type": "section", "text": {"type": "mrkdwn", "text": body}},
        ]
    })
}

/// The webhook event body: `{"type": "schedule.report", "timestamp", "data"}`.
pub fn webhook_body(
    schedule_id: &str,
    report_name: &str,
    slot: Option<EpochMs>,
    report: &Value,
    at: EpochMs,
) -> Value {
    json!({
        "type": "schedule.report",
        "timestamp": rfc3339(at),
        "data": {
            "schedule_id": schedule_id,
            "report": report_name,
            "slot": slot.map(rfc3339),
            "result": report,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sales() -> Value {
        json!({
            "report": "sales_over_time", "from": "2026-06-01", "to": "2026-06-07",
            "timezone": "Asia/Tokyo", "granularity": "day", "orders": 3,
            "currencies": [{"currency": "JPY",
                "totals": {"orders": 3, "net_sales": "3000"},
                "buckets": [
                    {"start": "2026-06-01", "figures": {"net_sales": "1000"}},
                    {"start": "2026-06-02", "figures": {"net_sales": "2000"}}]}]
        })
    }

    #[test]
    fn summary_has_top_level_figures_and_each_currencys_totals() {
        let rows = summary_rows(&sales());
        assert!(rows.contains(&("orders".into(), "3".into())), "{rows:?}");
        assert!(
            rows.contains(&("JPY net_sales".into(), "3000".into())),
            "{rows:?}"
        );
        assert!(
            rows.contains(&("granularity".into(), "day".into())),
            "{rows:?}"
        );
    }

    #[test]
    fn sales_over_time_gets_a_bar_per_bucket_scaled_to_the_largest() {
        let r = render("sales_over_time", &sales(), Some(0));
        assert!(r.html.contains("<svg"), "{}", r.html);
        assert_eq!(r.html.matches("<rect").count(), 2);
        // The larger bucket is full height (200 - 2 × 20).
        assert!(r.html.contains("height=\"160.0\""), "{}", r.html);
        assert!(r
            .text
            .contains("Range: 2026-06-01 to 2026-06-07 (Asia/Tokyo)"));
        assert_eq!(
            r.subject,
            "Conea report: sales_over_time (1970-01-01T00:00:00Z)"
        );
    }

    #[test]
    fn other_reports_are_a_table_without_chart_and_html_is_escaped() {
        let v = json!({"report": "inventory", "note": "<b>&</b>", "products": [1, 2]});
        let r = render("inventory", &v, None);
        assert!(!r.html.contains("<svg"));
        assert!(r.html.contains("&lt;b&gt;&amp;&lt;/b&gt;"), "{}", r.html);
        assert!(r.text.contains("products: 2 item(s)"), "{}", r.text);
    }

    #[test]
    fn slack_message_has_a_header_and_the_rows() {
        let r = render("sales_over_time", &sales(), Some(0));
        let m = slack_message(&r);
        assert_eq!(m["blocks"][0]["type"], "header");
        assert!(m["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("JPY net_sales: 3000"));
    }

    #[test]
    fn a_digest_shows_its_narrative_figures_against_the_period_before_and_anomalies() {
        let d = json!({
            "report": "digest", "period": "week", "from": "2026-06-01", "to": "2026-06-07",
            "previous_from": "2026-05-25", "previous_to": "2026-05-31",
            "timezone": "Asia/Tokyo", "language": "en",
            "currencies": [{"currency": "JPY",
                "current": {"orders": 3, "net_sales": "3000"},
                "previous": {"orders": 2, "net_sales": "2000"},
                "change": {"net_sales": {"absolute": "1000", "percent": 50.0}}}],
            "anomalies": {"days": [{"date": "2026-06-02", "currency": "JPY", "metric": "orders",
                "value": 9.0, "median": 2.0, "low": 1.0, "high": 3.0, "direction": "above"}],
                "stopped_products": [{"product_id": "7", "title": "Mug", "active_days": 5}]},
            "narrative": null, "narrative_note": "The narrative is unavailable (x)."
        });
        let r = render_digest(&d, Some(0));
        assert!(
            r.subject
                .starts_with("Conea digest: 2026-06-01 – 2026-06-07"),
            "{}",
            r.subject
        );
        assert!(
            r.text.contains("The narrative is unavailable (x)."),
            "{}",
            r.text
        );
        assert!(
            r.text.contains("JPY net_sales: 3000 (2000, +50%)"),
            "{}",
            r.text
        );
        assert!(
            r.text
                .contains("2026-06-02 JPY orders: 9.0 (above 1.0 – 3.0)"),
            "{}",
            r.text
        );
        assert!(r.text.contains("stopped selling: Mug: 7 (5)"), "{}", r.text);
        assert_eq!(r.rows[0].1, "The narrative is unavailable (x).");
    }
}
