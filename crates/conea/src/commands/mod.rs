//! One module per command group.

mod accounts;
mod analytics;
mod answer;
mod bench;
mod config;
mod data;
mod db;
mod diagnose;
mod file_limit;
mod incidents;
mod jobs;
mod limits;
mod schedules;
mod serve;
mod shopify;
mod token;

use crate::cli::{Cli, Command, DataCommand};
use anyhow::Result;
use std::process::ExitCode;

pub async fn run(cli: Cli) -> Result<ExitCode> {
    let file = cli.config.as_deref();
    match cli.command {
        Command::Serve { no_migrate } => serve::serve(file, !no_migrate).await,
        Command::Migrate => serve::migrate(file).await,
        Command::Config(c) => config::run(file, c),
        Command::Orgs(c) => accounts::orgs(file, c).await,
        Command::Users(c) => accounts::users(file, c).await,
        Command::Members(c) => accounts::members(file, c).await,
        Command::Keys(c) => accounts::keys(file, c).await,
        Command::GrantPermission(a) => accounts::grant(file, a).await,
        Command::Token(c) => token::run(file, c).await,
        Command::Limits(c) => limits::run(file, c).await,
        Command::Worker { concurrency } => serve::worker(file, concurrency).await,
        Command::Jobs(c) => jobs::run(file, c).await,
        Command::Incidents(c) => incidents::run(file, c).await,
        Command::Db(c) => db::run(file, c).await,
        Command::Diagnose {
            url,
            token,
            idle_over,
            since,
            json,
            kubernetes,
            profile,
            profile_out,
        } => {
            if let Some(length) = profile {
                let length = diagnose::profile::length(&length)?;
                return diagnose::profile::run(diagnose::profile::Request {
                    url: url.as_deref().unwrap_or_default(),
                    token: token.as_deref(),
                    length,
                    out: profile_out,
                })
                .await;
            }
            let idle_over = conea_core::config::duration::parse(&idle_over)
                .map_err(|e| anyhow::anyhow!("--idle-over: {e}"))?;
            let since = since
                .map(|s| conea_core::config::duration::parse(&s))
                .transpose()
                .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
            diagnose::run(diagnose::Options {
                config: file,
                url,
                token,
                idle_over,
                since,
                json,
                kubernetes: diagnose::kubernetes_target(&kubernetes),
            })
            .await
        }
        Command::Bench(c) => bench::run(c).await,
        Command::Analytics(a) => analytics::run(a).await,
        Command::Data(DataCommand::Import(a)) => data::import(a).await,
        Command::Data(DataCommand::Export(a)) => data::export(a).await,
        Command::Schedules(a) => schedules::run(a).await,
        Command::Shopify(c) => shopify::run(file, c).await,
    }
}
