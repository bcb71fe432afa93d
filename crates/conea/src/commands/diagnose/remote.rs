//! Checks against a running server (`--url`, optionally `--token`): health, readiness,
//! latency, clock skew, the token, rate-limit headroom, process resources and errors.

use super::{timed, Check};
use serde_json::Value;
use std::time::{Instant, SystemTime};

pub async fn run(url: &str, token: Option<&str>) -> Vec<Check> {
    let http = match reqwest::Client::builder()
        .timeout(super::CHECK_TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => return vec![Check::fail("api", e.to_string(), "")],
    };
    let mut out = Vec::new();
    out.extend(timed("api.health", health(&http, url)).await);
    out.extend(timed("api.readyz", readyz(&http, url)).await);
    out.extend(timed("api.latency", latency_and_skew(&http, url)).await);
    if let Some(t) = token {
        out.extend(timed("api.token", token_checks(&http, url, t)).await);
    }
    out.extend(timed("process", process(&http, url)).await);
    out
}

async fn get(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<(u16, reqwest::header::HeaderMap, String), String> {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.map_err(|e| format!("{url}: {e}"))?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.map_err(|e| e.to_string())?;
    Ok((status, headers, text))
}

async fn health(http: &reqwest::Client, url: &str) -> Vec<Check> {
    let (_, _, text) = match get(http, &format!("{url}/health"), None).await {
        Ok(r) => r,
        Err(e) => {
            return vec![Check::fail(
                "api.health",
                e,
                "the server is not reachable: is `conea serve` running there?",
            )]
        }
    };
    let h: Value = serde_json::from_str(&text).unwrap_or_default();
    let mut out = Vec::new();
    let down: Vec<String> = h["checks"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(_, c)| c["status"] == "down")
                .map(|(name, c)| format!("{name}: {}", c["error"].as_str().unwrap_or("down")))
                .collect()
        })
        .unwrap_or_default();
    let finding = format!(
        "status {} (version {}, up {} s){}",
        h["status"].as_str().unwrap_or("?"),
        h["version"].as_str().unwrap_or("?"),
        h["uptime_s"],
        if down.is_empty() {
            String::new()
        } else {
            format!("; {}", down.join("; "))
        }
    );
    out.push(match h["status"].as_str() {
        Some("ok") => Check::ok("api.health", finding),
        Some("degraded") => Check::warn("api.health", finding, "an optional dependency is down: see the finding"),
        _ => Check::fail("api.health", finding, "the database is down or behind: see the finding, then `conea diagnose` on the server's configuration"),
    });
    if h["checks"]["rate_limiter"]["fallback_active"] == true {
        out.push(Check::warn(
            "api.rate_limiter",
            format!(
                "Redis is down; limits are counted per replica ({} fallbacks so far)",
                h["checks"]["rate_limiter"]["fallbacks"]
            ),
            "bring Redis back; Conea uses it again by itself",
        ));
    }
    out.extend(ai_providers(&h["checks"]["ai_providers"]));
    let reads = &h["checks"]["database"]["reads"];
    if reads["replica_configured"] == true {
        let finding = format!(
            "reads go to the {} ({}), lag {} ms of {} ms allowed{}",
            reads["reads_go_to"].as_str().unwrap_or("?"),
            reads["reason"].as_str().unwrap_or("?"),
            reads["lag_ms"],
            reads["max_lag_ms"],
            reads["lag_error"]
                .as_str()
                .map(|e| format!("; {e}"))
                .unwrap_or_default()
        );
        out.push(if reads["reads_go_to"] == "replica" {
            Check::ok("api.read_replica", finding)
        } else {
            Check::warn(
                "api.read_replica",
                finding,
                "the primary serves every read: check the replica's lag (`conea db replication`) and DATABASE_REPLICA_URL",
            )
        });
    }
    if let Some(w) = h["checks"]["escalation"]["warning"].as_str() {
        out.push(Check::warn(
            "incidents.escalation",
            w.to_owned(),
            "set CONEA_ESCALATION_CONFIG to a policy with channels (`conea incidents check-config FILE` first)",
        ));
    }
    out
}

/// One check per AI provider that is not `ok` (circuit open, degraded or misconfigured),
/// with its last error; one `ok` line otherwise.
fn ai_providers(list: &Value) -> Vec<Check> {
    let Some(providers) = list.as_array().filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for p in providers {
        let name = p["name"].as_str().unwrap_or("?");
        let status = p["status"].as_str().unwrap_or("?");
        let last = p["last_error"].as_str().unwrap_or("none recorded");
        let check = format!("ai.{name}");
        match status {
            "ok" => {}
            "misconfigured" => out.push(Check::fail(
                &check,
                format!("misconfigured: the provider refused Conea's key ({last})"),
                format!("fix {}_API_KEY, then restart", name.to_uppercase()),
            )),
            _ => out.push(Check::warn(
                &check,
                format!("{status}; last error: {last}"),
                "requests fall back to the next target; check the provider's status page and `GET /v1/ai/models`",
            )),
        }
    }
    if out.is_empty() {
        out.push(Check::ok(
            "ai.providers",
            format!("{} provider(s), every circuit closed", providers.len()),
        ));
    }
    out
}

async fn readyz(http: &reqwest::Client, url: &str) -> Vec<Check> {
    match get(http, &format!("{url}/readyz"), None).await {
        Ok((200, _, _)) => vec![Check::ok("api.readyz", "ready")],
        Ok((status, _, text)) => {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            vec![Check::fail(
                "api.readyz",
                format!(
                    "{status}: {}",
                    v["error"]["message"].as_str().unwrap_or(&text)
                ),
                "see the message; usually the database or `conea migrate`",
            )]
        }
        Err(e) => vec![Check::fail("api.readyz", e, "the server is not reachable")],
    }
}

#[allow(clippy::disallowed_methods)] // the skew check compares our clock with the server's
async fn latency_and_skew(http: &reqwest::Client, url: &str) -> Vec<Check> {
    let started = Instant::now();
    let result = get(http, &format!("{url}/livez"), None).await;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let (_, headers, _) = match result {
        Ok(r) => r,
        Err(e) => return vec![Check::fail("api.latency", e, "the server is not reachable")],
    };
    let mut out = vec![if ms > 500.0 {
        Check::warn(
            "api.latency",
            format!("/livez answered in {ms:.1} ms"),
            "the server or network is slow: `conea bench endpoint URL/livez` measures it",
        )
    } else {
        Check::ok("api.latency", format!("/livez answered in {ms:.1} ms"))
    }];
    if let Some(date) = headers
        .get("date")
        .and_then(|d| d.to_str().ok())
        .and_then(|d| httpdate::parse_http_date(d).ok())
    {
        let local = SystemTime::now();
        let skew = match local.duration_since(date) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        };
        let direction = if skew < 0.0 { "ahead of" } else { "behind" };
        let finding = format!("the server's clock is {:.0} s {direction} this machine's (Date header, 1 s resolution)", skew.abs());
        out.push(match skew.abs() {
            s if s > 60.0 => Check::fail("api.clock_skew", finding, "tokens will be refused as expired or not yet valid (leeway JWT_LEEWAY, 60 s): fix NTP on both machines (`timedatectl status`)"),
            s if s > 5.0 => Check::warn("api.clock_skew", finding, "check NTP time synchronisation (`timedatectl status`)"),
            _ => Check::ok("api.clock_skew", finding),
        });
    }
    out
}

async fn token_checks(http: &reqwest::Client, url: &str, token: &str) -> Vec<Check> {
    let mut out = Vec::new();
    match get(http, &format!("{url}/v1/auth/verify"), Some(token)).await {
        Ok((200, _, text)) => {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            let left = v["expires_in"].as_i64();
            let finding = format!(
                "valid {} {} of {} with {} permission(s){}",
                v["kind"].as_str().unwrap_or("?"),
                v["subject"].as_str().unwrap_or("?"),
                v["organization_id"].as_str().unwrap_or("?"),
                v["permissions"].as_array().map(|p| p.len()).unwrap_or(0),
                left.map(|s| format!(", expires in {s} s"))
                    .unwrap_or_default()
            );
            out.push(match left {
                Some(s) if s < 300 => Check::warn(
                    "api.token",
                    finding,
                    "the token expires soon: request a new one",
                ),
                _ => Check::ok("api.token", finding),
            });
        }
        Ok((status, _, text)) => {
            let v: Value = serde_json::from_str(&text).unwrap_or_default();
            out.push(Check::fail(
                "api.token",
                format!(
                    "{status} {}: {}",
                    v["error"]["code"].as_str().unwrap_or("?"),
                    v["error"]["message"].as_str().unwrap_or(&text)
                ),
                "`conea token inspect TOKEN` shows its times and claims",
            ));
            return out;
        }
        Err(e) => {
            out.push(Check::fail("api.token", e, "the server is not reachable"));
            return out;
        }
    }
    if let Ok((200, _, text)) = get(http, &format!("{url}/v1/rate-limit"), Some(token)).await {
        let v: Value = serde_json::from_str(&text).unwrap_or_default();
        let (remaining, limit) = (
            v["remaining"].as_f64().unwrap_or(0.0),
            v["limit"].as_f64().unwrap_or(1.0),
        );
        let finding = format!(
            "{remaining} of {limit} requests left ({} policy, {} backend)",
            v["policy_source"].as_str().unwrap_or("?"),
            v["backend"].as_str().unwrap_or("?")
        );
        out.push(if remaining < limit * 0.1 {
            Check::warn("api.rate_limit", finding, "back off until X-RateLimit-Reset, or ask an admin: `conea limits set --key ID --per-minute N`")
        } else {
            Check::ok("api.rate_limit", finding)
        });
    }
    out
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.trim().parse().ok()))
}

async fn process(http: &reqwest::Client, url: &str) -> Vec<Check> {
    let text = match get(http, &format!("{url}/metrics"), None).await {
        Ok((200, _, t)) => t,
        Ok((s, _, _)) => {
            return vec![Check::warn(
                "process",
                format!("/metrics answered {s}"),
                "expose /metrics to the machine running diagnose",
            )]
        }
        Err(e) => return vec![Check::fail("process", e, "the server is not reachable")],
    };
    let rss = metric(&text, "conea_process_resident_memory_bytes ").unwrap_or(0.0) / 1048576.0;
    let fds = metric(&text, "conea_process_open_fds ").unwrap_or(0.0);
    let errors: f64 = text
        .lines()
        .filter(|l| l.starts_with("conea_http_requests_total{") && l.contains("status=\"5"))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum();
    let cpu = metric(&text, "conea_process_cpu_seconds_total ")
        .map(|c| format!(", {c:.1} CPU seconds"))
        .unwrap_or_default();
    let finding = format!(
        "RSS {rss:.0} MiB, {fds:.0} open files{cpu}, {errors:.0} responses with status 5xx since start"
    );
    vec![
        if errors > 0.0 {
            Check::warn("process", finding, "5xx answers happened: the server log has them under their request ids (search for `internal error`)")
        } else {
            Check::ok("process", finding)
        },
        cpu_check(&text),
    ]
}

/// The `(label value, value)` pairs of a labelled metric family, largest first.
fn labelled(text: &str, family: &str, label: &str) -> Vec<(String, f64)> {
    let prefix = format!("{family}{{{label}=\"");
    let mut rows: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(&prefix)?;
            let (name, rest) = rest.split_once("\"}")?;
            Some((name.to_owned(), rest.trim().parse().ok()?))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    rows
}

/// CPU against the limit (the guide's "high CPU" step), with the routes and job kinds that
/// spent most CPU since the start.
fn cpu_check(text: &str) -> Check {
    let limit = metric(text, "conea_cpu_limit_cores ");
    let Some(ratio) = metric(text, "conea_cpu_utilization_ratio ") else {
        return Check::ok(
            "process.cpu",
            "no CPU reading yet (the server reads its CPU every 5 s)".to_owned(),
        );
    };
    let top = |family: &str, label: &str| {
        let rows = labelled(text, family, label);
        if rows.is_empty() {
            return "none".to_owned();
        }
        rows.iter()
            .take(3)
            .map(|(n, s)| format!("{n} {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let finding = format!(
        "CPU {:.0} % of {:.2} cores; most CPU since start: routes {}; job kinds {}",
        ratio * 100.0,
        limit.unwrap_or(0.0),
        top("conea_http_cpu_seconds_total", "route"),
        top("conea_job_cpu_seconds_total", "kind"),
    );
    if ratio >= 0.8 {
        Check::warn(
            "process.cpu",
            finding,
            "the routes and job kinds named here spend the CPU: look at their volume and latency in /metrics; scale out or raise the CPU limit if the load is expected",
        )
    } else {
        Check::ok("process.cpu", finding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_check_warns_from_80_percent_and_names_the_routes_and_job_kinds_that_spent_most() {
        let text = "conea_cpu_limit_cores 2.0\nconea_cpu_utilization_ratio 0.93\n\
            conea_http_cpu_seconds_total{route=\"/livez\"} 0.2\n\
            conea_http_cpu_seconds_total{route=\"/v1/analytics/{report}\"} 41.5\n\
            conea_job_cpu_seconds_total{kind=\"shopify.sync\"} 12.0\n";
        let c = cpu_check(text);
        assert_eq!(c.status, super::super::Status::Warn);
        assert!(
            c.finding.contains("CPU 93 % of 2.00 cores"),
            "{}",
            c.finding
        );
        assert!(
            c.finding.contains(
                "routes /v1/analytics/{report} 41.5 s, /livez 0.2 s; job kinds shopify.sync 12.0 s"
            ),
            "{}",
            c.finding
        );
        let calm = cpu_check("conea_cpu_limit_cores 2\nconea_cpu_utilization_ratio 0.1\n");
        assert_eq!(calm.status, super::super::Status::Ok);
        assert!(
            calm.finding.contains("routes none; job kinds none"),
            "{}",
            calm.finding
        );
    }

    #[test]
    fn ai_providers_fail_on_misconfigured_warn_on_open_circuits_and_say_ok_otherwise() {
        let ok = serde_json::json!([{"name": "openai", "status": "ok", "last_error": null}]);
        let checks = ai_providers(&ok);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].status, super::super::Status::Ok);
        let bad = serde_json::json!([
            {"name": "openai", "status": "misconfigured", "last_error": "401 invalid_api_key"},
            {"name": "anthropic", "status": "circuit_open", "last_error": "529 overloaded_error"},
            {"name": "cohere", "status": "ok", "last_error": null}
        ]);
        let checks = ai_providers(&bad);
        assert_eq!(checks.len(), 2);
        assert_eq!(checks[0].name, "ai.openai");
        assert_eq!(checks[0].status, super::super::Status::Fail);
        assert!(checks[0].finding.contains("401 invalid_api_key"));
        assert_eq!(
            checks[0].fix.as_deref(),
            Some("fix OPENAI_API_KEY, then restart")
        );
        assert_eq!(checks[1].name, "ai.anthropic");
        assert_eq!(checks[1].status, super::super::Status::Warn);
        assert!(ai_providers(&serde_json::json!([])).is_empty());
    }
}
