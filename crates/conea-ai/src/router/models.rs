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
    /// The chat models the provider listed about itself (bare names route by them).
    pub discovered: Vec<String>,
    /// Why the provider's last model listing failed, if it did.
    pub discovery_error: Option<String>,
}

/// One routable model name, as OpenAI's `GET /v1/models` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoutableModel {
    pub id: String,
    /// The provider that answers it, or `conea` for aliases and `default`.
    pub owned_by: String,
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
        let discovery = self.discovery();
        let providers = self
            .breakers
            .iter()
            .map(|(name, breaker)| {
                let found = discovery.get(name).cloned().unwrap_or(super::Discovery {
                    models: Vec::new(),
                    error: None,
                });
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
                    discovered: found.models,
                    discovery_error: found.error,
                }
            })
            .collect();
        ModelList { aliases, providers }
    }

    /// Every name a request can use: the aliases and `default` (owned by `conea`), each
    /// discovered model by its bare name (owned by the provider that would answer it), and
    /// the aliases' targets as `provider/model`.
    pub fn routable_models(&self) -> Vec<RoutableModel> {
        let mut out: Vec<RoutableModel> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut push = |id: String, owned_by: &str| {
            if seen.insert(id.clone()) {
                out.push(RoutableModel {
                    id,
                    owned_by: owned_by.to_owned(),
                });
            }
        };
        if self.providers.is_empty() {
            return Vec::new();
        }
        for name in self.config.aliases.keys() {
            push(name.clone(), "conea");
        }
        push(super::DEFAULT_MODEL.to_owned(), "conea");
        let discovery = self.discovery();
        for kind in &self.config.provider_order {
            if let Some(d) = discovery.get(kind.name()) {
                for m in &d.models {
                    // the provider a bare name routes to (the first in order that lists it)
                    if self.provider_of(m) == Some(*kind) {
                        push(m.clone(), kind.name());
                    }
                }
            }
        }
        for t in self.config.aliases.values().flatten() {
            if self.providers.contains_key(t.provider.name()) {
                push(t.name(), t.provider.name());
            }
        }
        out
    }

    /// One model as `GET /v1/models/{id}` shows it: a listed one, or any name that routes
    /// (owned by its first target's provider).
    pub fn routable_model(&self, id: &str) -> Option<RoutableModel> {
        if let Some(m) = self.routable_models().into_iter().find(|m| m.id == id) {
            return Some(m);
        }
        let first = self.resolve(id).ok()?.into_iter().next()?;
        self.providers
            .contains_key(first.provider.name())
            .then(|| RoutableModel {
                id: id.to_owned(),
                owned_by: first.provider.name().to_owned(),
            })
    }
}
