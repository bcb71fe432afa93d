//! The parsers the settings declaration names: each gets a setting's trimmed, non-empty text
//! and returns its value or the message of the problem (the variable's name is added by the
//! loader).

use super::declare::Rejected;
use super::{Backend, LogFormat, DETECTORS};
use crate::auth::{api_key, jwt};
use crate::ratelimit::service::{FailureMode, MAX_LIMIT};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

type Parsed<T> = Result<T, String>;

pub fn text(v: &str) -> Parsed<String> {
    Ok(v.to_owned())
}

pub fn path(v: &str) -> Parsed<PathBuf> {
    Ok(PathBuf::from(v))
}

pub fn socket_addr(v: &str) -> Parsed<SocketAddr> {
    v.parse::<SocketAddr>()
        .map_err(|_| format!("`{v}` is not an address:port such as 127.0.0.1:8080"))
}

pub fn database_url(v: &str) -> Parsed<(Backend, String)> {
    match Backend::of_url(v) {
        Some(backend) => Ok((backend, v.to_owned())),
        None => Err(
            "must start with sqlite:// or postgres:// (e.g. postgres://conea@db:5432/conea)".into(),
        ),
    }
}

pub fn postgres_url(v: &str) -> Parsed<String> {
    match Backend::of_url(v) {
        Some(Backend::Postgres) => Ok(v.to_owned()),
        _ => Err("must be a postgres:// URL".into()),
    }
}

pub fn redis_url(v: &str) -> Parsed<String> {
    if v.starts_with("redis://") || v.starts_with("rediss://") {
        Ok(v.to_owned())
    } else {
        Err("must start with redis:// or rediss://".into())
    }
}

pub fn at_least_one(v: &str) -> Parsed<u32> {
    match v.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("`{v}` must be a whole number of at least 1")),
    }
}

pub fn millis(v: &str) -> Parsed<Duration> {
    v.parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| format!("`{v}` must be a whole number of milliseconds"))
}

/// A secret given by the operator: long enough to resist guessing.
pub fn secret(v: &str) -> Parsed<String> {
    if v.len() < super::secrets::MIN_SECRET_LEN {
        return Err(format!(
            "is {} characters long; use at least {} (e.g. the output of `openssl rand -hex 32`)",
            v.len(),
            super::secrets::MIN_SECRET_LEN
        ));
    }
    Ok(v.to_owned())
}

pub fn jwt_algorithms(v: &str) -> Parsed<Vec<jsonwebtoken::Algorithm>> {
    v.split(',')
        .map(|a| {
            jwt::parse_algorithm(a.trim())
                .ok_or_else(|| format!("`{}` is not one of HS256, HS384, HS512", a.trim()))
        })
        .collect()
}

pub fn bootstrap_key(v: &str) -> Parsed<String> {
    if api_key::looks_like_key(v) {
        Ok(v.to_owned())
    } else {
        Err("must look like a Conea key: `conea_` followed by at least 32 letters or digits".into())
    }
}

pub fn log_format(v: &str) -> Parsed<LogFormat> {
    match v {
        "pretty" => Ok(LogFormat::Pretty),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("`{v}` must be `pretty` or `json`")),
    }
}

pub fn body_bytes(v: &str) -> Parsed<usize> {
    match v.parse::<usize>() {
        Ok(n) if n >= 1024 => Ok(n),
        _ => Err(format!("`{v}` must be a number of bytes, at least 1024")),
    }
}

pub fn bytes(v: &str) -> Parsed<u64> {
    v.parse::<u64>()
        .map_err(|_| format!("`{v}` must be a number of bytes"))
}

pub fn whole_number(v: &str) -> Parsed<u64> {
    v.parse::<u64>()
        .map_err(|_| format!("`{v}` must be a whole number"))
}

/// A rate: requests per minute (or a burst), from 1 to the limiter's largest.
pub fn rate(v: &str) -> Parsed<u32> {
    match v.parse::<u32>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(format!(
            "`{v}` must be a whole number from 1 to {MAX_LIMIT}"
        )),
    }
}

/// A percentage from 1 to 100.
pub fn percent(v: &str) -> Parsed<u32> {
    match v.trim_end_matches('%').parse::<u32>() {
        Ok(n) if (1..=100).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` must be a whole percentage from 1 to 100")),
    }
}

pub fn flag(v: &str) -> Parsed<bool> {
    match v {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("`{v}` must be true or false")),
    }
}

pub fn trusted_proxies(v: &str) -> Parsed<Vec<ipnet::IpNet>> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("`{s}` is not an address or CIDR"))
        })
        .collect()
}

pub fn failure_mode(v: &str) -> Parsed<FailureMode> {
    match v {
        "open" => Ok(FailureMode::Open),
        "closed" => Ok(FailureMode::Closed),
        _ => Err(format!("`{v}` must be `open` or `closed`")),
    }
}

pub fn max_buckets(v: &str) -> Parsed<u64> {
    match v.parse::<u64>() {
        Ok(n) if n >= 100 => Ok(n),
        _ => Err(format!("`{v}` must be a whole number of at least 100")),
    }
}

pub fn worker_concurrency(v: &str) -> Parsed<usize> {
    match v.parse::<usize>() {
        Ok(n) if n <= 1024 => Ok(n),
        _ => Err(format!(
            "`{v}` must be a whole number from 0 (no worker) to 1024"
        )),
    }
}

pub fn claim_ahead_max(v: &str) -> Parsed<usize> {
    match v.parse::<usize>() {
        Ok(n) if n <= 100_000 => Ok(n),
        _ => Err(format!("`{v}` must be a whole number from 0 to 100000")),
    }
}

pub fn import_concurrency(v: &str) -> Parsed<usize> {
    match v.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` must be a whole number from 1 to 64")),
    }
}

pub fn job_lease(v: &str) -> Parsed<Duration> {
    match super::duration::parse(v) {
        Ok(d) if d >= Duration::from_secs(3) => Ok(d),
        Ok(_) => Err(format!("`{v}` is too short; use at least 3s")),
        Err(e) => Err(e),
    }
}

/// The request-path Redis timeout: long enough for a round trip, short enough that a frozen
/// Redis costs the requests of one timeout only.
pub fn redis_timeout(v: &str) -> Parsed<Duration> {
    match super::duration::parse(v) {
        Ok(d) if d >= Duration::from_millis(1) && d <= Duration::from_secs(10) => Ok(d),
        Ok(_) => Err(format!("`{v}` is out of range; use 1ms to 10s")),
        Err(e) => Err(e),
    }
}

/// A base URL for links, without its trailing slash.
pub fn public_url(v: &str) -> Parsed<String> {
    let u = v.trim_end_matches('/');
    if u.starts_with("http://") || u.starts_with("https://") {
        Ok(u.to_owned())
    } else {
        Err("must start with http:// or https://".into())
    }
}

/// `all`, `none`, or a comma list of [`DETECTORS`]; one problem per unknown name.
pub fn detectors(v: &str) -> Result<Vec<String>, Rejected> {
    let detectors: Vec<String> = match v {
        "all" => DETECTORS.iter().map(|d| (*d).to_owned()).collect(),
        "none" => Vec::new(),
        list => list
            .split(',')
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .collect(),
    };
    let unknown: Vec<String> = detectors
        .iter()
        .filter(|d| !DETECTORS.contains(&d.as_str()))
        .map(|d| {
            format!("unknown detector `{d}` (use all, none, or database, ai, webhooks, queue, cpu)")
        })
        .collect();
    if unknown.is_empty() {
        Ok(detectors)
    } else {
        Err(Rejected(unknown))
    }
}

/// An Admin API version: `YYYY-MM` (month 01 to 12) or `unstable`.
pub fn api_version(v: &str) -> Parsed<String> {
    let b = v.as_bytes();
    let valid = v == "unstable"
        || (b.len() == 7
            && b[4] == b'-'
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[5..].iter().all(u8::is_ascii_digit)
            && matches!(v[5..].parse::<u8>(), Ok(1..=12)));
    if valid {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "`{v}` must be an Admin API version: `YYYY-MM` (such as 2026-10) or `unstable`"
        ))
    }
}

/// An http(s) base URL with a host, without its trailing slash.
pub fn http_url(v: &str) -> Parsed<String> {
    match url::Url::parse(v) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(v.trim_end_matches('/').to_owned())
        }
        _ => Err(format!(
            "`{v}` must be an http(s) URL such as http://127.0.0.1:4000"
        )),
    }
}

/// A comma list of Shopify access scopes (`read_orders`, `write_products`, ...).
pub fn scopes(v: &str) -> Parsed<Vec<String>> {
    let scopes: Vec<String> = v
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    match scopes
        .iter()
        .find(|s| !s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
    {
        Some(bad) => Err(format!(
            "`{bad}` is not an access scope: use lowercase names such as read_orders, comma separated"
        )),
        None if scopes.is_empty() => Err("names no access scope".into()),
        None => Ok(scopes),
    }
}

/// `off`, or a duration of at least a minute.
pub fn sync_interval(v: &str) -> Parsed<Option<Duration>> {
    if v == "off" {
        return Ok(None);
    }
    match super::duration::parse(v) {
        Ok(d) if d >= Duration::from_secs(60) => Ok(Some(d)),
        Ok(_) => Err(format!("`{v}` is too short; use at least 1m, or `off`")),
        Err(e) => Err(e),
    }
}

pub fn bulk_threshold(v: &str) -> Parsed<Option<u64>> {
    if v == "off" {
        return Ok(None);
    }
    v.parse::<u64>()
        .map(Some)
        .map_err(|_| format!("`{v}` must be a whole number of objects, or `off`"))
}

pub fn page_size(v: &str) -> Parsed<u32> {
    match v.parse::<u32>() {
        Ok(n) if (1..=250).contains(&n) => Ok(n),
        _ => Err(format!("`{v}` must be a whole number from 1 to 250")),
    }
}
