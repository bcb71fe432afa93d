//! `conea diagnose --profile 30s --url … --token …`: records a CPU profile of the running
//! server (`GET /v1/admin/profile`, `admin` permission) and writes its flame graph (SVG).

use anyhow::{anyhow, bail, Context, Result};
use conea_core::{Clock, SystemClock};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// The server's bounds of one profile.
const MIN: Duration = Duration::from_secs(1);
const MAX: Duration = Duration::from_secs(300);

pub struct Request<'a> {
    pub url: &'a str,
    pub token: Option<&'a str>,
    pub length: Duration,
    /// `--profile-out`; else `conea-profile-<UTC time>.svg` in the current directory.
    pub out: Option<PathBuf>,
}

/// Checks `--profile`: whole seconds, 1 s to 5 min (the server's bounds).
pub fn length(text: &str) -> Result<Duration> {
    let d = conea_core::config::duration::parse(text).map_err(|e| anyhow!("--profile: {e}"))?;
    if d < MIN || d > MAX || d.subsec_nanos() != 0 {
        bail!("--profile: `{text}` must be whole seconds from 1s to 5m");
    }
    Ok(d)
}

pub async fn run(r: Request<'_>) -> Result<ExitCode> {
    let url = r.url.trim_end_matches('/');
    let Some(token) = r.token else {
        bail!("--profile needs --token: a token or API key with the `admin` permission");
    };
    let out = r.out.unwrap_or_else(default_path);
    let seconds = r.length.as_secs();
    println!("recording a CPU profile of {url} for {seconds} s …");
    let http = reqwest::Client::builder()
        .connect_timeout(super::CHECK_TIMEOUT)
        // The server answers once it sampled for `seconds`, then draws the graph.
        .timeout(r.length + Duration::from_secs(60))
        .build()?;
    let endpoint = format!("{url}/v1/admin/profile");
    let response = http
        .get(&endpoint)
        .query(&[("seconds", seconds.to_string()), ("format", "svg".into())])
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "cannot reach {endpoint}: {e}; is `conea serve` running there, and is --url right?"
            )
        })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {endpoint}"))?;
    if !status.is_success() {
        bail!("{}", refusal(status.as_u16(), &body));
    }
    if !body.starts_with(b"<?xml") && !body.starts_with(b"<svg") {
        bail!("{endpoint} answered {status} but not with an SVG flame graph: is --url a Conea server?");
    }
    write(&out, &body)?;
    println!(
        "wrote the flame graph ({} bytes) to {}",
        body.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What a refusal means, from the error body's code and message.
fn refusal(status: u16, body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    let code = v["error"]["code"].as_str().unwrap_or("");
    let message = v["error"]["message"].as_str().unwrap_or("");
    let hint = match (status, code) {
        (401, _) => "the token or API key is not accepted: check --token",
        (403, _) => "profiling needs the `admin` permission (the bootstrap owner's key has it)",
        (409, _) => "another profile is being recorded; retry when it finished",
        (404, _) => "this server has no profile endpoint: is it an older Conea?",
        (429, _) => "rate limited; retry after the time the server names",
        _ => "see the server's message",
    };
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" `{code}`")
    };
    format!("the server refused the profile ({status}{code}): {message} ({hint})")
}

fn write(out: &Path, svg: &[u8]) -> Result<()> {
    std::fs::write(out, svg).with_context(|| format!("writing {}", out.display()))
}

fn default_path() -> PathBuf {
    let s = SystemClock.now_ms() / 1000;
    let name = time::OffsetDateTime::from_unix_timestamp(s)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| s.to_string());
    PathBuf::from(format!("conea-profile-{name}.svg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_length_is_whole_seconds_within_the_servers_bounds() {
        assert_eq!(length("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(length("5m").unwrap(), Duration::from_secs(300));
        assert!(length("0s").is_err());
        assert!(length("6m").is_err());
        assert!(length("1500ms").is_err());
        assert!(length("soon").is_err());
    }

    #[test]
    fn a_refusal_names_the_code_and_what_to_do() {
        let body = br#"{"error":{"code":"insufficient_permissions","message":"needs admin"}}"#;
        let text = refusal(403, body);
        assert!(text.contains("403 `insufficient_permissions`"), "{text}");
        assert!(text.contains("`admin` permission"), "{text}");
        assert!(refusal(502, b"not json").contains("502"));
    }

    #[test]
    fn the_default_file_is_named_after_the_time_in_the_current_directory() {
        let p = default_path();
        let name = p.to_str().unwrap();
        assert!(name.starts_with("conea-profile-2"), "{name}");
        assert!(name.ends_with("Z.svg"), "{name}");
        assert_eq!(p.parent(), Some(Path::new("")));
    }
}
