//! Which provider serves a bare model name (`gpt-4o-mini`, `claude-3-5-haiku-latest`,
//! `llama3.2`): the models each provider lists about itself, read at start and every
//! `models_refresh`, else the name-prefix table. A name several providers serve goes to the
//! first of them in `provider_order`.

use super::Router;
use crate::providers::ProviderKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

/// How long one provider's model list may take.
const LIST_TIMEOUT: Duration = Duration::from_secs(10);
/// A bare name found nowhere starts a refresh at most this often (an unknown name in every
/// request must not turn into a model-list call per request).
const MISS_REFRESH_EVERY_MS: i64 = 30_000;

#[derive(Debug, Default)]
pub(super) struct Catalogue {
    state: RwLock<Discovered>,
    /// One refresh at a time.
    refreshing: tokio::sync::Mutex<()>,
}

#[derive(Debug, Default, Clone)]
struct Discovered {
    /// Provider name → its chat models, sorted.
    models: BTreeMap<String, Vec<String>>,
    /// Provider name → why its last listing failed (its previous list is kept).
    errors: BTreeMap<String, String>,
    /// When the last refresh started (clock ms), if ever.
    refreshed_at_ms: Option<i64>,
}

/// What `/v1/ai/models` shows of discovery, per provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Discovery {
    pub models: Vec<String>,
    pub error: Option<String>,
}

impl Router {
    /// The provider of a bare model name, if any configured one serves it.
    pub fn provider_of(&self, model: &str) -> Option<ProviderKind> {
        let configured = |k: &ProviderKind| self.providers.contains_key(k.name());
        let listed = self.catalogue.state.read().ok().and_then(|d| {
            self.config
                .provider_order
                .iter()
                .filter(|k| configured(k))
                .find(|k| {
                    d.models
                        .get(k.name())
                        .is_some_and(|m| m.binary_search_by(|x| x.as_str().cmp(model)).is_ok())
                })
                .copied()
        });
        listed.or_else(|| ProviderKind::by_model_prefix(model))
    }

    /// Reads every configured provider's model list (one refresh at a time; a failed
    /// listing keeps that provider's previous list and records why).
    pub async fn refresh_models(&self) {
        let _one = self.catalogue.refreshing.lock().await;
        let started = self.clock.now_ms();
        if let Ok(mut d) = self.catalogue.state.write() {
            d.refreshed_at_ms = Some(started);
        }
        for (name, provider) in &self.providers {
            let result = provider.list_models(LIST_TIMEOUT).await;
            let Ok(mut d) = self.catalogue.state.write() else {
                return;
            };
            match result {
                Ok(models) => {
                    d.errors.remove(name);
                    if models.is_empty() {
                        d.models.remove(name);
                    } else {
                        let mut models = models;
                        models.sort();
                        d.models.insert(name.clone(), models);
                    }
                }
                Err(e) => {
                    tracing::warn!(provider = %name, error = %e, "cannot list the provider's models; bare names use the last list and the prefix table");
                    d.errors.insert(name.clone(), e.to_string());
                }
            }
        }
    }

    /// Before routing `model`: a bare name no provider is known to serve, and whose name
    /// prefix names no configured provider, starts a refresh when none ran in the last 30 s
    /// (a model added upstream since the last refresh). The request path does no
    /// allocation here: a `provider/model` name is recognised without parsing it into a
    /// target, and the sorted lists are searched by bisection.
    pub(super) async fn discover_if_unknown(&self, model: &str) {
        let provider_model = model
            .split_once('/')
            .is_some_and(|(p, _)| ProviderKind::parse(p.trim()).is_some());
        if provider_model
            || model == super::DEFAULT_MODEL
            || self.providers.is_empty()
            || self.config.aliases.contains_key(model)
        {
            return;
        }
        let known = self
            .catalogue
            .state
            .read()
            .map(|d| {
                d.models
                    .values()
                    .any(|m| m.binary_search_by(|x| x.as_str().cmp(model)).is_ok())
            })
            .unwrap_or(false);
        // The prefix table answers for it until the periodic refresh lists it: waiting for
        // a listing would cost this request a round trip for no change of route.
        let by_prefix = ProviderKind::by_model_prefix(model)
            .is_some_and(|k| self.providers.contains_key(k.name()));
        if known || by_prefix {
            return;
        }
        let recent = self
            .catalogue
            .state
            .read()
            .ok()
            .and_then(|d| d.refreshed_at_ms)
            .is_some_and(|at| self.clock.now_ms().saturating_sub(at) < MISS_REFRESH_EVERY_MS);
        if !recent {
            self.refresh_models().await;
        }
    }

    /// Each configured provider's discovered models and last listing error.
    pub fn discovery(&self) -> BTreeMap<String, Discovery> {
        let d = self
            .catalogue
            .state
            .read()
            .map(|d| d.clone())
            .unwrap_or_default();
        self.providers
            .keys()
            .map(|name| {
                (
                    name.clone(),
                    Discovery {
                        models: d.models.get(name).cloned().unwrap_or_default(),
                        error: d.errors.get(name).cloned(),
                    },
                )
            })
            .collect()
    }
}
