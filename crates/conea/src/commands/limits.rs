//! `conea limits set|show`.

use crate::cli::LimitsCommand;
use crate::context::open;
use anyhow::{bail, Result};
use conea_core::clock::rfc3339;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(file: Option<&Path>, command: LimitsCommand) -> Result<ExitCode> {
    let p = open(file).await?;
    match command {
        LimitsCommand::Set {
            key,
            org,
            per_minute,
            burst,
        } => {
            let o = match (key, org) {
                (Some(k), None) => p.limits.set_key_limit(None, &k, per_minute, burst).await?,
                (None, Some(slug)) => {
                    let org = p.accounts.org_by_slug(&slug).await?;
                    p.limits
                        .set_org_limit(None, org.id.as_str(), per_minute, burst)
                        .await?
                }
                _ => bail!("give exactly one of --key or --org"),
            };
            println!(
                "{} {}: {} per minute, burst {} (replicas apply it within a few seconds)",
                o.scope.as_str(),
                o.subject_id,
                o.per_minute,
                o.burst.unwrap_or(o.per_minute)
            );
        }
        LimitsCommand::Show { json } => {
            let d = p.limits.defaults();
            let overrides = p.limits.list_overrides().await?;
            if json {
                let rows: Vec<_> = overrides
                    .iter()
                    .map(|o| json!({
                        "scope": o.scope.as_str(), "subject_id": o.subject_id,
                        "organization_id": o.org_id, "per_minute": o.per_minute,
                        "burst": o.burst.unwrap_or(o.per_minute), "updated_at": rfc3339(o.updated_at),
                    }))
                    .collect();
                let out = json!({
                    "default": {"per_minute": d.per_minute, "burst": d.burst, "per_ip_per_minute": d.per_address_per_minute},
                    "backend": p.limits.backend().as_str(),
                    "overrides": rows,
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "default: {} per minute, burst {} (RATE_LIMIT_PER_MINUTE / RATE_LIMIT_BURST); unauthenticated: {} per minute per address; backend: {}",
                    d.per_minute, d.burst, d.per_address_per_minute, p.limits.backend().as_str()
                );
                println!(
                    "{:<14}  {:<36}  {:>10}  {:>8}  UPDATED",
                    "SCOPE", "SUBJECT", "PER_MINUTE", "BURST"
                );
                for o in overrides {
                    println!(
                        "{:<14}  {:<36}  {:>10}  {:>8}  {}",
                        o.scope.as_str(),
                        o.subject_id,
                        o.per_minute,
                        o.burst.unwrap_or(o.per_minute),
                        rfc3339(o.updated_at)
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
