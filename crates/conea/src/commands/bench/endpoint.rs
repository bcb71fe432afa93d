//! `conea bench endpoint`: N requests one after another on one keep-alive connection.

use super::client::Conn;
use super::report::EndpointReport;
use super::stats::Tally;
use super::target::Target;
use crate::cli::BenchEndpointArgs;
use anyhow::{bail, Result};
use std::process::ExitCode;
use std::time::Instant;

pub async fn run(args: BenchEndpointArgs) -> Result<ExitCode> {
    if args.requests == 0 {
        bail!("-n must be at least 1");
    }
    let target = Target::parse(&args.request)?;
    let mut conn = Conn::new(&target)?;
    conn.warm_up(&target).await;
    let mut tally = Tally::new();
    for _ in 0..args.requests {
        let sent = Instant::now();
        let outcome = conn.send(&target, Some(target.timeout)).await;
        tally.record(outcome, sent.elapsed());
    }
    let report = EndpointReport::new(&target, &tally);
    if args.request.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.text());
    }
    Ok(ExitCode::SUCCESS)
}
