//! The router: resolves a model name (an alias, or `provider/model`) to ordered targets,
//! calls them through the fallback loop, and reports provider health.

mod attempt;
mod catalogue;
mod error;
mod fallback;
mod models;
mod stream;

pub use attempt::{Attempt, Outcome};
pub use catalogue::Discovery;
pub use error::{ErrorClass, GatewayError};
pub use models::{AliasEntry, ModelList, ProviderEntry, RoutableModel, TargetEntry};
pub use stream::RoutedStream;

use crate::backoff::{Sleeper, TokioSleeper};
use crate::breaker::Breaker;
use crate::config::{AiConfig, Target};
use crate::embedding::{EmbeddingRequest, EmbeddingResponse};
use crate::http::{HttpClient, StreamLimits};
use crate::providers::{CallOptions, Provider};
use crate::types::{ChatRequest, ChatResponse, Usage};
use conea_core::Clock;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Told about the usage of every successful call, exactly once (metering, billing): when a
/// complete call returns, or when a stream finishes cleanly. Retried and failed attempts,
/// and streams that end in an error, report nothing. `model` is the target's model name.
pub trait UsageSink: Send + Sync {
    fn record(&self, provider: &str, model: &str, usage: Usage);
}

/// Records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoUsageSink;

impl UsageSink for NoUsageSink {
    fn record(&self, _: &str, _: &str, _: Usage) {}
}

/// The model name that tries every configured provider's default model, in
/// `provider_order` (unless an alias of that name is configured).
pub const DEFAULT_MODEL: &str = "default";

pub struct Router {
    config: AiConfig,
    catalogue: catalogue::Catalogue,
    providers: BTreeMap<String, Arc<dyn Provider>>,
    breakers: BTreeMap<String, Arc<Breaker>>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    usage: Arc<dyn UsageSink>,
}

impl Router {
    /// A router over HTTP clients for every configured provider (one shared connection
    /// pool), waiting with tokio and reporting usage nowhere.
    pub fn new(config: AiConfig, clock: Arc<dyn Clock>) -> Result<Self, crate::http::ClientError> {
        let http = HttpClient::new(Arc::clone(&clock))?;
        let mut router = Self {
            catalogue: catalogue::Catalogue::default(),
            providers: BTreeMap::new(),
            breakers: BTreeMap::new(),
            clock,
            sleeper: Arc::new(TokioSleeper),
            usage: Arc::new(NoUsageSink),
            config,
        };
        let endpoints: Vec<_> = router
            .config
            .providers
            .iter()
            .map(|(k, ep)| (*k, ep.clone()))
            .collect();
        for (kind, endpoint) in endpoints {
            router = router.with_provider(kind.build(endpoint, http.clone()));
        }
        Ok(router)
    }

    /// Replaces how the router waits between retries (tests: a fake-clock sleeper).
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn with_usage_sink(mut self, sink: Arc<dyn UsageSink>) -> Self {
        self.usage = sink;
        self
    }

    /// Adds (or replaces) a provider under its `name()`, with a fresh breaker.
    pub fn with_provider(mut self, provider: Arc<dyn Provider>) -> Self {
        let name = provider.name().to_owned();
        let breaker = Breaker::new(Arc::clone(&self.clock), self.config.breaker);
        self.breakers.insert(name.clone(), breaker);
        self.providers.insert(name, provider);
        self
    }

    pub fn config(&self) -> &AiConfig {
        &self.config
    }

    /// The ordered targets for a model name: an alias's targets; `default` (every
    /// configured provider's default model, in `provider_order`); `provider/model`; or a bare
    /// name, routed to the provider that lists it (else by its prefix) and, with
    /// `default_fallback`, followed by the other providers' default models.
    pub fn resolve(&self, model: &str) -> Result<Vec<Target>, GatewayError> {
        if self.providers.is_empty() {
            return Err(GatewayError::NoProviderConfigured {
                variables: AiConfig::provider_variables(),
            });
        }
        let unknown = || GatewayError::UnknownModel {
            model: model.to_owned(),
            aliases: self.config.aliases.keys().cloned().collect(),
        };
        let targets = if let Some(t) = self.config.aliases.get(model) {
            t.clone()
        } else if model == DEFAULT_MODEL {
            self.default_targets()
        } else if let Ok(t) = Target::parse(model) {
            vec![t]
        } else {
            let kind = self.provider_of(model).ok_or_else(unknown)?;
            let mut targets = vec![Target::bare(kind, model)];
            if self.config.default_fallback {
                targets.extend(
                    self.default_targets()
                        .into_iter()
                        .filter(|t| t.provider != kind),
                );
            }
            targets
        };
        if !targets
            .iter()
            .any(|t| self.providers.contains_key(t.provider.name()))
        {
            let mut kinds: Vec<_> = targets.iter().map(|t| t.provider).collect();
            kinds.sort();
            kinds.dedup();
            return Err(GatewayError::ProviderNotConfigured {
                providers: kinds.iter().map(|k| k.name().to_owned()).collect(),
                variables: kinds.iter().map(|k| k.key_variable()).collect(),
            });
        }
        Ok(targets)
    }

    /// Every configured provider's default model, in `provider_order`.
    pub fn default_targets(&self) -> Vec<Target> {
        self.config
            .provider_order
            .iter()
            .filter(|k| self.providers.contains_key(k.name()))
            .map(|k| {
                let model = self
                    .config
                    .default_models
                    .get(k)
                    .map(String::as_str)
                    .unwrap_or(k.default_model());
                Target::bare(*k, model)
            })
            .collect()
    }

    /// Embeds the request's texts with the first target that succeeds. Vectors of
    /// different models are not comparable, so only an alias's own targets are tried in
    /// turn: a bare name or `provider/model` is one target, and `default` is refused.
    pub async fn embed(
        &self,
        req: &EmbeddingRequest,
    ) -> Result<(EmbeddingResponse, Vec<Attempt>), GatewayError> {
        self.discover_if_unknown(&req.model).await;
        let alias = self.config.aliases.contains_key(&req.model);
        if req.model == DEFAULT_MODEL && !alias {
            return Err(GatewayError::UnknownModel {
                model: req.model.clone(),
                aliases: self.config.aliases.keys().cloned().collect(),
            });
        }
        let mut targets = self.resolve(&req.model)?;
        if !alias {
            targets.truncate(1);
        }
        let won = self
            .fallback(
                targets,
                |_| Ok(()),
                |provider, target, opts| async move {
                    provider.embed(&target.model, req, opts.timeout).await
                },
            )
            .await?;
        let response = won.value;
        self.usage.record(
            won.target.provider.name(),
            &won.target.model,
            Usage {
                input_tokens: response.input_tokens,
                output_tokens: 0,
            },
        );
        Ok((response, won.attempts))
    }

    /// The targets for a request, honouring its `fallback`.
    pub fn resolve_request(&self, req: &ChatRequest) -> Result<Vec<Target>, GatewayError> {
        let mut targets = self.resolve(&req.model)?;
        match &req.fallback {
            crate::types::Fallback::Default | crate::types::Fallback::Enabled(true) => {}
            crate::types::Fallback::Enabled(false) => targets.truncate(1),
            crate::types::Fallback::Targets(list) => {
                targets.truncate(1);
                for name in list {
                    let t = Target::parse(name).map_err(|_| GatewayError::UnknownModel {
                        model: name.clone(),
                        aliases: self.config.aliases.keys().cloned().collect(),
                    })?;
                    targets.push(t);
                }
            }
        }
        Ok(targets)
    }

    fn options(&self, target: &Target) -> CallOptions {
        CallOptions {
            timeout: target.timeout.unwrap_or(self.config.timeout),
            stream: StreamLimits {
                idle: self.config.stream_idle_timeout,
                total: self.config.stream_total_timeout,
            },
        }
    }

    /// Answers a chat request with the first target that succeeds. The attempts list every
    /// call and skip, the successful one last.
    pub async fn complete(
        &self,
        req: &ChatRequest,
    ) -> Result<(ChatResponse, Vec<Attempt>), GatewayError> {
        self.discover_if_unknown(&req.model).await;
        let targets = self.resolve_request(req)?;
        let won = self
            .fallback(
                targets,
                |t| crate::capabilities::check(t.provider, req),
                |provider, target, opts| async move {
                    provider.complete(&target.model, req, &opts).await
                },
            )
            .await?;
        let response = won.value;
        // the target's model name, as for streams (providers may answer with a version)
        self.usage.record(
            won.target.provider.name(),
            &won.target.model,
            response.usage,
        );
        Ok((response, won.attempts))
    }
}
