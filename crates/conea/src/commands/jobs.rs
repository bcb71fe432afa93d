//! `conea jobs list|show|cancel|retry|enqueue|stats`.

use crate::cli::JobsCommand;
use crate::context::open;
use anyhow::{anyhow, Result};
use conea_core::clock::rfc3339;
use conea_core::ids::JobId;
use conea_jobs::{Job, JobFilter, JobState, NewJob};
use serde_json::{json, Value};
use std::path::Path;
use std::process::ExitCode;

fn to_json(j: &Job) -> Value {
    json!({
        "id": j.id, "kind": j.kind, "organization_id": j.org_id, "status": j.state.as_str(),
        "progress": j.progress, "progress_message": j.progress_message,
        "attempts": j.attempt, "max_attempts": j.max_attempts, "args": j.args, "result": j.result,
        "errors": j.errors.iter().map(|e| json!({"attempt": e.attempt, "at": rfc3339(e.at), "error": e.error})).collect::<Vec<_>>(),
        "scheduled_at": rfc3339(j.scheduled_at), "created_at": rfc3339(j.created_at),
        "started_at": j.started_at.map(rfc3339), "finished_at": j.finished_at.map(rfc3339),
        "lease_owner": j.lease_owner,
    })
}

pub async fn run(file: Option<&Path>, command: JobsCommand) -> Result<ExitCode> {
    let p = open(file).await?;
    let store = p.jobs.store().clone();
    let now = p.clock.now_ms();
    match command {
        JobsCommand::List {
            org,
            status,
            kind,
            limit,
            json,
        } => {
            let org = p.accounts.org_by_slug(&org).await?;
            let state = status
                .as_deref()
                .map(|s| JobState::parse(s).ok_or_else(|| anyhow!("`{s}` is not a job status")))
                .transpose()?;
            let jobs = store
                .list(
                    &org.id,
                    &JobFilter {
                        state,
                        kind,
                        after: None,
                        limit,
                    },
                )
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&jobs.iter().map(to_json).collect::<Vec<_>>())?
                );
            } else {
                println!(
                    "{:<36}  {:<20}  {:<10}  {:>8}  {:>4}  CREATED",
                    "ID", "KIND", "STATUS", "ATTEMPTS", "PCT"
                );
                for j in jobs {
                    println!(
                        "{:<36}  {:<20}  {:<10}  {:>5}/{:<2}  {:>4}  {}",
                        j.id,
                        j.kind,
                        j.state.as_str(),
                        j.attempt,
                        j.max_attempts,
                        j.progress,
                        rfc3339(j.created_at)
                    );
                }
            }
        }
        JobsCommand::Show { id } => {
            let job = p.jobs.get_any(&id).await?;
            println!("{}", serde_json::to_string_pretty(&to_json(&job))?);
        }
        JobsCommand::Cancel { id } => {
            let job_id = JobId::parse(&id).map_err(|e| anyhow!("{e}"))?;
            let job = store
                .cancel(&job_id, now)
                .await?
                .ok_or_else(|| anyhow!("no job {id}"))?;
            let what = if job.state == JobState::Cancelled {
                "cancelled"
            } else {
                "cancellation requested (it stops at its next check)"
            };
            println!("{id}: {what}");
        }
        JobsCommand::Retry { id } => {
            let job_id = JobId::parse(&id).map_err(|e| anyhow!("{e}"))?;
            let job = store
                .retry(&job_id, now)
                .await?
                .ok_or_else(|| anyhow!("no job {id}"))?;
            if job.state != JobState::Available {
                return Err(anyhow!(
                    "{id} is {}; only discarded or cancelled jobs can be retried",
                    job.state.as_str()
                ));
            }
            println!("{id}: available again");
        }
        JobsCommand::Enqueue {
            kind,
            org,
            args,
            count,
        } => {
            let org = p.accounts.org_by_slug(&org).await?;
            let args: Value =
                serde_json::from_str(&args).map_err(|e| anyhow!("--args is not JSON: {e}"))?;
            match p.jobs.registry().get(&kind) {
                None => eprintln!(
                    "warning: no handler for `{kind}` in this build; a worker will discard it"
                ),
                Some(handler) => handler
                    .check_args(&args)
                    .map_err(|e| anyhow!("--args: {e}"))?,
            }
            if count == 1 {
                let e = p
                    .jobs
                    .enqueue(NewJob::new(&kind, org.id.clone(), args))
                    .await?;
                println!("{}", e.job.id);
            } else {
                let jobs: Vec<NewJob> = (0..count)
                    .map(|_| NewJob::new(&kind, org.id.clone(), args.clone()))
                    .collect();
                let n = store.enqueue_many(&jobs, now).await?;
                println!("enqueued {n} `{kind}` jobs");
            }
        }
        JobsCommand::Stats { json } => {
            let s = p.jobs.stats().await?;
            if json {
                let counts: Vec<Value> = s
                    .counts
                    .iter()
                    .map(|(k, st, n)| json!({"kind": k, "state": st.as_str(), "count": n}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "counts": counts,
                        "oldest_available_age_ms": s.oldest_available_age_ms,
                        "discarded_last_hour": s.discarded_last_hour,
                    }))?
                );
            } else {
                for (k, st, n) in &s.counts {
                    println!("{k:<24} {:<10} {n}", st.as_str());
                }
                println!(
                    "oldest waiting job: {}",
                    s.oldest_available_age_ms
                        .map(|a| format!("{:.1} s", a as f64 / 1000.0))
                        .unwrap_or_else(|| "none".into())
                );
                println!("discarded in the last hour: {}", s.discarded_last_hour);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
