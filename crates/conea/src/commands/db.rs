//! `conea db connections|slow`: the operations guide's connection-pool and slow-query
//! checks, without psql.

use crate::cli::DbCommand;
use crate::context::load_config;
use anyhow::{anyhow, bail, Result};
use conea_core::config::duration;
use conea_store::diagnostics as dx;
use std::io::{BufRead, IsTerminal};
use std::path::Path;
use std::process::ExitCode;

pub async fn run(file: Option<&Path>, command: DbCommand) -> Result<ExitCode> {
    let (config, _) = load_config(file)?;
    let db = conea_store::db::connect_as(&config.database, "conea-cli").await?;
    if db.as_postgres().is_none() {
        bail!("`conea db` inspects PostgreSQL; the embedded SQLite database has no connection pool to inspect");
    }
    match command {
        DbCommand::Connections { idle_over, terminate, yes, all } => {
            let Some(idle_over) = idle_over else {
                println!("{:<24}  {:<22}  COUNT", "APPLICATION", "STATE");
                for g in dx::connections(&db).await? {
                    println!("{:<24}  {:<22}  {}", g.application_name, g.state, g.count);
                }
                return Ok(ExitCode::SUCCESS);
            };
            let d = duration::parse(&idle_over).map_err(|e| anyhow!("--idle-over: {e}"))?;
            let prefix = if all { "" } else { "conea" };
            let idle = dx::idle_connections(&db, d.as_secs_f64(), prefix).await?;
            println!("{:<8}  {:<16}  {:<24}  IDLE", "PID", "USER", "APPLICATION");
            for c in &idle {
                println!("{:<8}  {:<16}  {:<24}  {:.0} s", c.pid, c.usename, c.application_name, c.idle_seconds);
            }
            println!("{} connection(s) idle for more than {idle_over}{}", idle.len(), if all { "" } else { " (Conea's own; --all for every application)" });
            if terminate && !idle.is_empty() {
                if !yes {
                    if !std::io::stdin().is_terminal() {
                        bail!("refusing to terminate without confirmation: add --yes");
                    }
                    eprint!("terminate these {} connection(s)? [y/N] ", idle.len());
                    let mut answer = String::new();
                    std::io::stdin().lock().read_line(&mut answer)?;
                    if !answer.trim().eq_ignore_ascii_case("y") {
                        println!("nothing terminated");
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                let pids: Vec<i32> = idle.iter().map(|c| c.pid).collect();
                let n = dx::terminate(&db, &pids).await?;
                println!("terminated {n} connection(s)");
            }
        }
        DbCommand::Replication => {
            let peers = dx::replication_peers(&db).await?;
            if peers.is_empty() {
                println!("primary: no replica is attached (pg_stat_replication is empty)");
            } else {
                println!("{:<16}  {:<20}  {:<10}  {:<6}  {:>12}  LAG_S", "CLIENT", "APPLICATION", "STATE", "SYNC", "LAG_BYTES");
                for r in peers {
                    println!(
                        "{:<16}  {:<20}  {:<10}  {:<6}  {:>12}  {}",
                        r.client_addr,
                        r.application_name,
                        r.state,
                        r.sync_state,
                        r.replay_lag_bytes.map(|b| b.to_string()).unwrap_or_default(),
                        r.replay_lag_seconds.map(|s| format!("{s:.1}")).unwrap_or_default()
                    );
                }
            }
            match &config.database.replica_url {
                None => println!("DATABASE_REPLICA_URL is not set: no replica to check"),
                Some(url) => {
                    let mut replica_cfg = config.database.clone();
                    replica_cfg.url = url.clone();
                    let replica = conea_store::db::connect_as(&replica_cfg, "conea-cli").await?;
                    let max = config.database.max_replica_lag.as_secs_f64();
                    match dx::replica_lag_seconds(&replica).await? {
                        None => println!("replica: the server at DATABASE_REPLICA_URL is not in recovery (not a replica)"),
                        Some(lag) => println!("replica lag {lag:.1} s (CONEA_MAX_REPLICA_LAG {max:.0} s): {}", if lag <= max { "ok" } else { "TOO HIGH" }),
                    }
                    replica.close().await;
                }
            }
        }
        DbCommand::Slow { limit } => match dx::slow_statements(&db, limit).await? {
            None => println!(
                "pg_stat_statements is not installed (add it to shared_preload_libraries and `CREATE EXTENSION pg_stat_statements`). \
                 Conea logs its own statements slower than CONEA_SLOW_QUERY_MS ({} ms) at warn and counts them in conea_db_slow_statements_total.",
                config.database.slow_statement.as_millis()
            ),
            Some(rows) => {
                println!("{:>10}  {:>8}  QUERY", "MEAN_MS", "CALLS");
                for r in rows {
                    println!("{:>10.1}  {:>8}  {}", r.mean_exec_time_ms, r.calls, r.query.split_whitespace().collect::<Vec<_>>().join(" "));
                }
            }
        },
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
