//! Loading configuration and opening the platform for CLI commands, with errors that name
//! the setting or service at fault.

use anyhow::{anyhow, Result};
use conea_core::config::{Config, RawSettings};
use conea_core::SystemClock;
use conea_server::Platform;
use std::path::Path;
use std::sync::Arc;

pub fn load_config(file: Option<&Path>) -> Result<(Config, RawSettings)> {
    Config::from_env(file).map_err(|problems| {
        let lines: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        anyhow!("invalid configuration:\n  {}", lines.join("\n  "))
    })
}

/// Opens the configured database for a management command (migrating it first, so a
/// command works on a fresh data dir too).
pub async fn open(file: Option<&Path>) -> Result<Platform> {
    let (config, _) = load_config(file)?;
    Platform::open(config, Arc::new(SystemClock), true, "conea-cli")
        .await
        .map_err(|e| anyhow!("{e}"))
}
