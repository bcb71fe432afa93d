//! `conea token inspect` and `conea token issue`.

use crate::cli::TokenCommand;
use crate::context::open;
use anyhow::{anyhow, Result};
use conea_core::auth::jwt::{self, JwtSettings};
use conea_core::clock::rfc3339;
use conea_core::config::duration;
use conea_core::{Clock, ErrorCode, SystemClock};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(file: Option<&Path>, command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Inspect { token, secret } => inspect(&token, secret.as_deref()),
        TokenCommand::Issue { email, ttl, org } => {
            let ttl = ttl
                .as_deref()
                .map(|t| duration::parse(t).map_err(|e| anyhow!("--ttl: {e}")))
                .transpose()?;
            let p = open(file).await?;
            let user = p.accounts.user_by_email(&email).await?;
            let org_id = match org {
                Some(slug) => p.accounts.org_by_slug(&slug).await?.id,
                None => p.accounts.default_org_of(&user.id).await?,
            };
            let token = p.accounts.issue_token(&user.id, &org_id, ttl)?;
            println!("{}", token.token);
            eprintln!(
                "token for {} in {org_id}, expires in {} s",
                user.email, token.expires_in
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn human(seconds: i64) -> String {
    let s = seconds.abs();
    let text = match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        3600..=86399 => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d{:02}h", s / 86400, (s % 86400) / 3600),
    };
    text
}

fn inspect(token: &str, secret: Option<&str>) -> Result<ExitCode> {
    let (header, claims) =
        jwt::decode_unverified(token.trim()).map_err(|e| anyhow!("not a JWT: {e}"))?;
    let now_ms = SystemClock.now_ms();
    let now = now_ms / 1000;
    println!("header: {}", serde_json::to_string(&header)?);
    println!("claims: {}", serde_json::to_string_pretty(&claims)?);
    println!("server time (this machine): {}", rfc3339(now_ms));
    let time = |name: &str| claims.get(name).and_then(|v| v.as_i64());
    if let Some(iat) = time("iat") {
        println!(
            "issued at:  {} ({} ago)",
            rfc3339(iat * 1000),
            human(now - iat)
        );
    }
    if let Some(nbf) = time("nbf") {
        let note = if nbf > now {
            format!("NOT YET VALID for {}; check clock sync", human(nbf - now))
        } else {
            "ok".into()
        };
        println!("not before: {} ({note})", rfc3339(nbf * 1000));
    }
    match time("exp") {
        Some(exp) if exp > now => println!(
            "expires at: {} (valid for {} more)",
            rfc3339(exp * 1000),
            human(exp - now)
        ),
        Some(exp) => println!(
            "expires at: {} (EXPIRED {} ago)",
            rfc3339(exp * 1000),
            human(now - exp)
        ),
        None => println!("expires at: none (Conea requires `exp`)"),
    }
    let Some(secret) = secret else {
        println!("signature:  not checked (pass --secret to check it)");
        return Ok(ExitCode::SUCCESS);
    };
    let alg = header.get("alg").and_then(|a| a.as_str()).unwrap_or("");
    let Some(algorithm) = jwt::parse_algorithm(alg) else {
        println!("signature:  cannot be checked with a secret: algorithm `{alg}` is not HS256/HS384/HS512");
        return Ok(ExitCode::FAILURE);
    };
    let settings = JwtSettings {
        secret: secret.as_bytes().to_vec(),
        algorithms: vec![algorithm],
        issuer: None,
        audience: None,
        ttl: Duration::from_secs(0),
        leeway: Duration::from_secs(u32::MAX as u64),
    };
    match jwt::verify(&settings, token.trim(), now_ms) {
        Err(f) if f.code() == ErrorCode::InvalidSignature => {
            println!("signature:  INVALID (altered, or signed with another secret)");
            Ok(ExitCode::FAILURE)
        }
        Err(f) if f.code() == ErrorCode::MalformedToken => {
            println!("signature:  cannot be checked: {}", f.message());
            Ok(ExitCode::FAILURE)
        }
        _ => {
            println!("signature:  valid ({alg})");
            Ok(ExitCode::SUCCESS)
        }
    }
}
