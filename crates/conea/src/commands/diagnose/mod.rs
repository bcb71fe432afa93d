//! `conea diagnose`: the operations guide's checks, run by the product. Each check says `ok`,
//! `warn` or `fail`, one line of finding and, when not ok, the fix. Each has its own timeout
//! so one hung dependency cannot hang the command. Exit status 1 when any check failed.

mod local;
mod remote;

use anyhow::Result;
use serde::Serialize;
use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub finding: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: &str, finding: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            finding: finding.into(),
            fix: None,
        }
    }

    pub fn warn(name: &str, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Warn,
            finding: finding.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn fail(name: &str, finding: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Fail,
            finding: finding.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Runs a group of checks under the per-check timeout; a timeout is a failure of `name`.
pub async fn timed<F: Future<Output = Vec<Check>>>(name: &str, fut: F) -> Vec<Check> {
    match tokio::time::timeout(CHECK_TIMEOUT, fut).await {
        Ok(checks) => checks,
        Err(_) => vec![Check::fail(
            name,
            format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
            "the dependency hangs: check its host, network and load",
        )],
    }
}

pub struct Options<'a> {
    pub config: Option<&'a Path>,
    pub url: Option<String>,
    pub token: Option<String>,
    pub idle_over: Duration,
    pub json: bool,
}

pub async fn run(o: Options<'_>) -> Result<ExitCode> {
    let mut checks = local::run(o.config, o.idle_over).await;
    if let Some(url) = &o.url {
        checks.extend(remote::run(url.trim_end_matches('/'), o.token.as_deref()).await);
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let (ok, warn, fail) = (count(Status::Ok), count(Status::Warn), count(Status::Fail));
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "checks": checks,
                "summary": {"ok": ok, "warn": warn, "fail": fail},
            }))?
        );
    } else {
        for c in &checks {
            let tag = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            println!("{tag}  {:<26} {}", c.name, c.finding);
            if let Some(fix) = &c.fix {
                println!("      {:<26} fix: {fix}", "");
            }
        }
        println!("\n{ok} ok, {warn} warn, {fail} fail");
    }
    Ok(if fail > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
