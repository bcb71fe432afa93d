//! `conea diagnose`: the operations guide's checks, run by the product. Each check says `ok`,
//! `warn` or `fail`, one line of finding and, when not ok, the fix. Each has its own timeout
//! so one hung dependency cannot hang the command. Exit status 1 when any check failed.

pub mod kubernetes;
mod local;
pub mod profile;
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
    /// `--since`: list the error log's lines of this period.
    pub since: Option<Duration>,
    pub json: bool,
    /// The cluster to check, when `--kubernetes` or inside a pod.
    pub kubernetes: Option<kubernetes::Cluster>,
}

/// The cluster `--kubernetes` (or a pod's environment) names, if any.
pub fn kubernetes_target(a: &crate::cli::KubernetesArgs) -> Option<kubernetes::Cluster> {
    if !a.kubernetes && a.kube_service_host.is_none() && a.kube_api_url.is_none() {
        return None;
    }
    let sa = Path::new(kubernetes::SERVICE_ACCOUNT_DIR);
    let api_url = a.kube_api_url.clone().unwrap_or_else(|| {
        let host = a
            .kube_service_host
            .as_deref()
            .unwrap_or("kubernetes.default.svc");
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        format!("https://{host}:{}", a.kube_service_port)
    });
    let default_ca = sa.join("ca.crt");
    Some(kubernetes::Cluster {
        token_file: a
            .kube_token_file
            .clone()
            .unwrap_or_else(|| sa.join("token")),
        ca_file: a.kube_ca_file.clone().or_else(|| {
            (api_url.starts_with("https://") && default_ca.exists()).then_some(default_ca)
        }),
        namespace: a.kube_namespace.clone().unwrap_or_else(|| {
            std::fs::read_to_string(sa.join("namespace"))
                .map(|n| n.trim().to_owned())
                .unwrap_or_else(|_| "default".into())
        }),
        api_url,
    })
}

/// The `errors.recent` check and the lines behind it.
// disallowed_methods: a CLI config entry point (CONEA_DATA_DIR when the config is invalid),
// and the error log's lines carry wall-clock times.
#[allow(clippy::disallowed_methods)]
fn recent_errors(
    config: Option<&Path>,
    since: Duration,
) -> (Check, Vec<crate::logging::ErrorLine>) {
    let data_dir = crate::context::load_config(config)
        .map(|(c, _)| c.data_dir)
        .unwrap_or_else(|_| {
            std::env::var(conea_core::config::var::CONEA_DATA_DIR)
                .unwrap_or_else(|_| conea_core::config::DEFAULT_DATA_DIR.into())
                .into()
        });
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    let from = now_ms - i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    let lines = crate::logging::read_since(&data_dir, from);
    let period = conea_core::config::duration::format(since);
    let errors = lines.iter().filter(|l| l.level == "ERROR").count();
    let warnings = lines.len() - errors;
    let dir = crate::logging::error_log_dir(&data_dir);
    let check = if lines.is_empty() {
        Check::ok(
            "errors.recent",
            format!(
                "no warnings or errors in the last {period} ({})",
                dir.display()
            ),
        )
    } else {
        let last = lines.last().map(|l| l.message.as_str()).unwrap_or_default();
        let finding = format!(
            "{errors} error(s) and {warnings} warning(s) in the last {period}; last: {last}"
        );
        let fix = "read the lines below (request_id leads to the request's log lines); the symptom sections of docs/operations.md map messages to fixes";
        if errors > 0 {
            Check::fail("errors.recent", finding, fix)
        } else {
            Check::warn("errors.recent", finding, fix)
        }
    };
    (check, lines)
}

pub async fn run(o: Options<'_>) -> Result<ExitCode> {
    let mut checks = local::run(o.config, o.idle_over).await;
    if let Some(url) = &o.url {
        checks.extend(remote::run(url.trim_end_matches('/'), o.token.as_deref()).await);
    }
    if let Some(cluster) = &o.kubernetes {
        checks.extend(kubernetes::run(cluster).await);
    }
    let mut error_lines = Vec::new();
    if let Some(since) = o.since {
        let (check, lines) = recent_errors(o.config, since);
        checks.push(check);
        error_lines = lines;
    }
    let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
    let (ok, warn, fail) = (count(Status::Ok), count(Status::Warn), count(Status::Fail));
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "checks": checks,
                "summary": {"ok": ok, "warn": warn, "fail": fail},
                "recent_errors": error_lines,
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
        if !error_lines.is_empty() {
            println!("\nRecent warnings and errors (oldest first):");
            for l in &error_lines {
                let fields = l
                    .fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                println!("  {} {:<5} {} {fields}", l.at, l.level, l.message);
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
