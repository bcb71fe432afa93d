//! `conea bench endpoint` (sequential latency) and `conea bench load` (throughput and
//! latency under concurrent load, closed or open loop).

mod client;
mod endpoint;
mod load;
mod progress;
mod report;
mod schedule;
mod stats;
mod target;
mod upstream;
mod worker;

use crate::cli::BenchCommand;
use anyhow::Result;
use std::process::ExitCode;

pub async fn run(command: BenchCommand) -> Result<ExitCode> {
    match command {
        BenchCommand::Endpoint(args) => endpoint::run(args).await,
        BenchCommand::Load(args) => load::run(args).await,
        BenchCommand::Upstream {
            bind,
            latency,
            tools,
        } => upstream::run(&bind, &latency, tools.as_deref()).await,
    }
}
