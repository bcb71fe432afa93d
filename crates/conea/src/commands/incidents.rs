//! `conea incidents list|show|open|ack|resolve|postmortem|check-config`: the incident
//! service over the configured database (a running server's worker carries out the
//! escalation steps these commands schedule or cancel).

use crate::cli::IncidentsCommand;
use crate::context::{load_config, open};
use anyhow::{anyhow, Result};
use conea_core::clock::rfc3339;
use conea_core::ids::OrgId;
use conea_core::permissions::PermissionSet;
use conea_core::principal::{Principal, PrincipalKind};
use conea_incidents::engine::Report;
use conea_incidents::store::{Entry, Incident};
use conea_incidents::{Policy, Severity};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;

/// The operator at the terminal: direct database access already grants everything.
fn operator(org: OrgId) -> Principal {
    Principal {
        kind: PrincipalKind::User,
        subject: "cli".into(),
        org_id: org,
        role: None,
        permissions: PermissionSet::all(),
        issued_at: None,
        expires_at: None,
    }
}

fn to_json(i: &Incident) -> Value {
    json!({
        "id": i.id, "title": i.title, "severity": i.severity.as_str(), "status": i.status.as_str(),
        "source": i.source, "dedup_key": i.dedup_key, "summary": i.summary, "details": i.details,
        "repeat_count": i.repeat_count, "opened_at": rfc3339(i.opened_at),
        "acknowledged_at": i.acknowledged_at.map(rfc3339), "acknowledged_by": i.acknowledged_by,
        "resolved_at": i.resolved_at.map(rfc3339), "resolved_by": i.resolved_by,
    })
}

fn entry_json(e: &Entry) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    v["at"] = json!(rfc3339(e.at));
    v
}

pub async fn run(file: Option<&Path>, command: IncidentsCommand) -> Result<ExitCode> {
    if let IncidentsCommand::CheckConfig { path } = &command {
        return check_config(file, path.as_deref());
    }
    // Everything else needs the database.
    let p = open(file).await?;
    let svc = p.incidents.clone();
    let who = |org: OrgId| operator(org);
    let org_of = |slug: String| {
        let accounts = p.accounts.clone();
        async move { accounts.org_by_slug(&slug).await.map(|o| o.id) }
    };
    match command {
        IncidentsCommand::CheckConfig { .. } => {}
        IncidentsCommand::List {
            org,
            status,
            severity,
            limit,
            json,
        } => {
            let by = who(org_of(org).await?);
            let list = svc
                .list(&by, status.as_deref(), severity.as_deref(), limit)
                .await?;
            if json {
                let v: Vec<Value> = list.iter().map(to_json).collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "{:<36}  {:<8}  {:<12}  {:>5}  {:<20}  TITLE",
                    "ID", "SEVERITY", "STATUS", "COUNT", "OPENED"
                );
                for i in list {
                    println!(
                        "{:<36}  {:<8}  {:<12}  {:>5}  {:<20}  {}",
                        i.id,
                        i.severity.as_str(),
                        i.status.as_str(),
                        i.repeat_count,
                        rfc3339(i.opened_at),
                        i.title
                    );
                }
            }
        }
        IncidentsCommand::Show { id, org } => {
            let by = who(org_of(org).await?);
            let view = svc.get(&by, &id).await?;
            let mut v = to_json(&view.incident);
            v["timeline"] = json!(view.timeline.iter().map(entry_json).collect::<Vec<_>>());
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        IncidentsCommand::Open {
            title,
            severity,
            org,
            dedup_key,
            summary,
        } => {
            let by = who(org_of(org).await?);
            let severity: Severity = severity.parse().map_err(|e: String| anyhow!(e))?;
            let opened = svc
                .open(
                    &by,
                    Report {
                        title,
                        severity,
                        source: Some("cli".into()),
                        dedup_key,
                        summary,
                        details: None,
                    },
                )
                .await?;
            let what = if opened.created {
                "opened"
            } else {
                "deduplicated into"
            };
            println!("{what} {}", opened.incident.id);
        }
        IncidentsCommand::Ack { id, org } => {
            let by = who(org_of(org).await?);
            let i = svc.acknowledge(&by, &id).await?;
            println!("{}: {}", i.id, i.status);
        }
        IncidentsCommand::Resolve { id, org } => {
            let by = who(org_of(org).await?);
            let i = svc.resolve(&by, &id).await?;
            println!("{}: {}", i.id, i.status);
        }
        IncidentsCommand::Postmortem { id, org } => {
            let by = who(org_of(org).await?);
            print!("{}", svc.postmortem(&by, &id).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Validates the policy file without touching the database.
fn check_config(file: Option<&Path>, path: Option<&Path>) -> Result<ExitCode> {
    let configured;
    let path = match path {
        Some(p) => Some(p),
        None => {
            let (config, _) = load_config(file)?;
            configured = config.incidents.escalation_config.clone();
            configured.as_deref()
        }
    };
    match Policy::load(path) {
        Ok(policy) => {
            match path {
                Some(p) => println!("{}: valid", p.display()),
                None => println!(
                    "no escalation policy (CONEA_ESCALATION_CONFIG is unset): the default matrix, no channels"
                ),
            }
            print!("{}", policy.describe());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprint!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}
