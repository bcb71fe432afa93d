//! `conea schedules list|run-now ID|disable ID`: report schedules on a running server
//! (`/v1/schedules`). `list` prints a table on a terminal and the server's JSON with `--json`
//! or when piped; an error answer is one line with its status, code and parameter.

use crate::cli::{SchedulesArgs, SchedulesCommand};
use anyhow::{anyhow, Result};
use reqwest::Method;
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

async fn call(a: &SchedulesArgs, method: Method, path: &str, body: Option<Value>) -> Result<Value> {
    let base = a.url.trim_end_matches('/');
    let url = format!("{base}{path}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let token = a
        .token
        .as_deref()
        .ok_or_else(|| anyhow!("--token (or CONEA_TOKEN) is required: an API key or token"))?;
    let mut req = http.request(method, &url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req
        .send()
        .await
        .map_err(|e| anyhow!("{base} did not answer: {e}"))?;
    let body = super::answer::json(&url, r).await?;
    Ok(body)
}

/// Every page of the organization's schedules.
async fn all(a: &SchedulesArgs) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/schedules?limit=500&cursor={c}"),
            None => "/v1/schedules?limit=500".to_string(),
        };
        let page = call(a, Method::GET, &path, None).await?;
        out.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
}

/// One line per schedule: id, report, cron, zone, enabled, next run, last run's status.
pub fn table(schedules: &[Value]) -> String {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    let mut rows = vec![[
        "ID".to_string(),
        "REPORT".into(),
        "CRON".into(),
        "TIMEZONE".into(),
        "ENABLED".into(),
        "NEXT RUN".into(),
        "LAST RUN".into(),
    ]];
    for s in schedules {
        rows.push([
            text(&s["id"]),
            text(&s["report"]),
            text(&s["cron"]),
            text(&s["timezone"]),
            text(&s["enabled"]),
            text(&s["next_runs"][0]),
            text(&s["last_run"]["status"]),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let cells: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

pub async fn run(a: SchedulesArgs) -> Result<ExitCode> {
    let as_json = a.json || !std::io::stdout().is_terminal();
    match &a.command {
        SchedulesCommand::List => {
            let list = all(&a).await?;
            if as_json {
                println!("{}", serde_json::to_string_pretty(&json!({"data": list}))?);
            } else {
                print!("{}", table(&list));
            }
        }
        SchedulesCommand::RunNow { id } => {
            let body = call(
                &a,
                Method::POST,
                &format!("/v1/schedules/{id}/run"),
                Some(json!({})),
            )
            .await?;
            if as_json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                println!(
                    "{id}: run enqueued as {} (follow it at {})",
                    body["job_id"].as_str().unwrap_or("?"),
                    body["check_url"].as_str().unwrap_or("?")
                );
            }
        }
        SchedulesCommand::Disable { id } => {
            let body = call(
                &a,
                Method::PATCH,
                &format!("/v1/schedules/{id}"),
                Some(json!({"enabled": false})),
            )
            .await?;
            if as_json {
                println!("{}", serde_json::to_string_pretty(&body)?);
            } else {
                println!("{id}: disabled");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
