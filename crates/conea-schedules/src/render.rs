//! A report's JSON turned into what each channel shows: a summary table (text and HTML),
//! a bar chart of net sales per bucket for `sales_over_time` (a PNG image the HTML e-mail
//! shows by `cid:`, where a chart says more than a table of thirty rows), Slack Block Kit,
//! and the webhook event body. Pure functions; no I/O.

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
    /// Images the HTML shows by `cid:` (sent as inline parts of the e-mail).
    pub images: Vec<InlineImage>,
}

/// An image the HTML refers to as `cid:{content_id}`.
#[derive(Debug, Clone, PartialEq)]
pub struct InlineImage {
    pub content_id: String,
    pub png: Vec<u8>,
}

/// The `Content-ID` of the net sales chart.
pub const CHART_CONTENT_ID: &str = "net-sales-chart@conea";

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
            // The bucket's figures are its own fields (`SalesBucket` flattens them).
            let net = b.get("net_sales")?.as_str()?.parse().ok()?;
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

/// The chart's HTML (its title, then the image by `cid:`, described in its `alt`) and the
/// image; `None` if the image could not be encoded (the table still says everything).
pub fn chart(title: &str, points: &[(String, f64)]) -> Option<(String, InlineImage)> {
    let values: Vec<f64> = points.iter().map(|p| p.1).collect();
    let png = crate::chart_png::bar_chart(&values)
        .map_err(|e| tracing::warn!(error = %e, "the report chart could not be drawn"))
        .ok()?;
    let largest = points.iter().fold(None::<&(String, f64)>, |m, p| match m {
        Some(m) if m.1 >= p.1 => Some(m),
        _ => Some(p),
    });
    let alt = match largest {
        Some((label, v)) => format!(
            "{title}: a bar per bucket, {} buckets; the largest is {v} ({label})",
            points.len()
        ),
        None => format!("{title}: no buckets"),
    };
    let html = format!(
        "<p><strong>{t}</strong></p><img src=\"cid:{CHART_CONTENT_ID}\" width=\"{w}\" height=\"{h}\" alt=\"{alt}\">",
        t = escape_html(title),
        w = crate::chart_png::WIDTH,
        h = crate::chart_png::HEIGHT,
        alt = escape_html(&alt),
    );
    Some((
        html,
        InlineImage {
            content_id: CHART_CONTENT_ID.into(),
            png,
        },
    ))
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
    let mut images = Vec::new();
    if let Some((currency, points)) = chart_series(report) {
        if let Some((chart_html, image)) = chart(&format!("Net sales ({currency})"), &points) {
            html.push_str(&chart_html);
            images.push(image);
        }
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
        images,
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
        images: Vec::new(),
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
                    {"start": "2026-06-01", "net_sales": "1000", "orders": 1},
                    {"start": "2026-06-02", "net_sales": "2000", "orders": 2}]}]
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
    fn sales_over_time_shows_its_chart_image_by_cid_described_in_its_alt_text() {
        let r = render("sales_over_time", &sales(), Some(0));
        assert_eq!(r.images.len(), 1);
        assert!(r.images[0].png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
        assert!(
            r.html
                .contains(&format!("<img src=\"cid:{}\"", r.images[0].content_id)),
            "{}",
            r.html
        );
        assert!(
            r.html.contains("<strong>Net sales (JPY)</strong>"),
            "{}",
            r.html
        );
        assert!(
            r.html.contains("2 buckets; the largest is 2000"),
            "{}",
            r.html
        );
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
        assert!(!r.html.contains("<img"));
        assert!(r.images.is_empty());
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
