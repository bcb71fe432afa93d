//! The AI gateway installed into a platform: the provider table read from the configuration
//! (all problems at once), the router over one HTTP client, usage written through the store.

use crate::usage::AiUsageStore;
use crate::{AiConfig, Gateway, Router};
use conea_core::config::Config;
use conea_core::Clock;
use std::sync::Arc;

/// Builds the gateway; the error says which part of the AI configuration is wrong.
pub fn gateway(
    config: &Config,
    usage: Arc<dyn AiUsageStore>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<Gateway>, String> {
    let ai_config = AiConfig::load(&config.ai.values, config.ai.table.as_ref())
        .map_err(|problems| format!("AI configuration: {}", problems.join("; ")))?;
    let router = Router::new(ai_config, clock.clone()).map_err(|e| e.to_string())?;
    Ok(Arc::new(Gateway::new(router, usage, clock)))
}
