//! `Router::models()`: aliases and provider models with their health, for `GET /v1/models`
//! style listings and status pages.

use super::Router;
use crate::breaker::{HealthStatus, LastError};
use crate::providers::ProviderKind;
use serde::Serialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelList {
    pub aliases: Vec<AliasEntry>,
    pub providers: Vec<ProviderEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AliasEntry {
    pub name: String,
    /// The best status among its targets: an alias works while one target does.
    pub status: TargetStatus,
    pub targets: Vec<TargetEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetEntry {
    /// `provider/model`.
    pub target: String,
    pub status: TargetStatus,
    pub context_window: Option<u64>,
    pub timeout_ms: u64,
}

/// A provider's health, or `not_configured`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetStatus {
    Ok,
    Degraded,
    CircuitOpen,
    Misconfigured,
    NotConfigured,
}

impl From<HealthStatus> for TargetStatus {
    fn from(h: HealthStatus) -> Self {
        match h {
            HealthStatus::Ok => TargetStatus::Ok,
            HealthStatus::Degraded => TargetStatus::Degraded,
            HealthStatus::CircuitOpen => TargetStatus::CircuitOpen,
            HealthStatus::Misconfigured => TargetStatus::Misconfigured,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProviderEntry {
    pub name: String,
    pub status: HealthStatus,
    pub consecutive_failures: u32,
    /// When an open circuit lets the next probe through.
    pub retry_at: Option<String>,
    pub last_error: Option<LastError>,
    /// The models the aliases use on this provider (any other model can be named
    /// directly as `provider/model`).
    pub models: Vec<String>,
}

impl Router {
    fn status_of(&self, provider: &str) -> TargetStatus {
        self.breakers
            .get(provider)
            .map(|b| b.health().status.into())
            .unwrap_or(TargetStatus::NotConfigured)
    }

    /// Every alias with its targets, and every configured provider with its health and
    /// last error.
    pub fn models(&self) -> ModelList {
        let aliases = self
            .config
            .aliases
            .iter()
            .map(|(name, targets)| {
                let targets: Vec<TargetEntry> = targets
                    .iter()
                    .map(|t| TargetEntry {
                        target: t.name(),
                        status: self.status_of(t.provider.name()),
                        context_window: t.context_window,
                        timeout_ms: t.timeout.unwrap_or(self.config.timeout).as_millis() as u64,
                    })
                    .collect();
                AliasEntry {
                    name: name.clone(),
                    status: targets
                        .iter()
                        .map(|t| t.status)
                        .min()
                        .unwrap_or(TargetStatus::NotConfigured),
                    targets,
                }
            })
            .collect();
        let providers = self
            .breakers
            .iter()
            .map(|(name, breaker)| {
                let health = breaker.health();
                let models: BTreeSet<String> = self
                    .config
                    .aliases
                    .values()
                    .flatten()
                    .filter(|t| ProviderKind::name(t.provider) == name)
                    .map(|t| t.model.clone())
                    .collect();
                ProviderEntry {
                    name: name.clone(),
                    status: health.status,
                    consecutive_failures: health.consecutive_failures,
                    retry_at: health.retry_at,
                    last_error: health.last_error,
                    models: models.into_iter().collect(),
                }
            })
            .collect();
        ModelList { aliases, providers }
    }
}
