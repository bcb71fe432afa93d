//! The AI gateway's configuration: which providers are on (keys and base URLs), model
//! aliases (ordered `provider/model` targets with per-target timeouts and context windows),
//! retry, breaker and stream limits.
//!
//! [`AiConfig::load`] takes values already gathered by Conea's one configuration loader: the
//! environment-style values (by variable name, e.g. `OPENAI_API_KEY`) and the `[ai]` table
//! of the configuration file. It never reads the process environment. Variables win over
//! the file. Every problem is reported at once, each naming its variable or key.
//!
//! ```toml
//! [ai]
//! max_retries = 2
//! max_retry_wait = "10s"
//! timeout = "60s"                  # default per-target timeout
//! stream_idle_timeout = "30s"
//! stream_total_timeout = "10m"
//! usage_flush = "50ms"             # how long usage counts wait in memory before their write
//!
//! [ai.providers.ollama]            # a table turns Ollama on (it has no key)
//! base_url = "http://gpu-box:11434"
//!
//! [ai.aliases]
//! chat = ["openai/gpt-4o-mini", "anthropic/claude-3-5-haiku-latest"]
//! long = [
//!   { target = "openai/gpt-4o-mini", timeout = "20s", context_window = 128000 },
//!   { target = "gemini/gemini-1.5-pro", context_window = 2000000 },
//! ]
//! ```

mod targets;

pub use targets::Target;

use crate::backoff::RetryPolicy;
use crate::breaker::BreakerSettings;
use crate::providers::{Endpoint, ProviderKind};
use conea_core::config::{duration, Setting};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use targets::aliases;
use toml::{Table, Value};

/// The AI rows of Conea's one settings table (`conea_core::config::SETTINGS`).
pub fn ai_settings() -> impl Iterator<Item = &'static Setting> {
    conea_core::config::SETTINGS
        .iter()
        .filter(|s| s.toml.starts_with("ai."))
}

#[derive(Debug, Clone, PartialEq)]
pub struct AiConfig {
    /// Only the configured providers.
    pub providers: BTreeMap<ProviderKind, Endpoint>,
    pub aliases: BTreeMap<String, Vec<Target>>,
    pub retry: RetryPolicy,
    pub breaker: BreakerSettings,
    pub timeout: Duration,
    pub stream_idle_timeout: Duration,
    pub stream_total_timeout: Duration,
    /// How long a call's usage waits in memory before its batched write (the most a crash
    /// can lose).
    pub usage_flush: Duration,
    /// How often the providers' model lists are read again.
    pub models_refresh: Duration,
    /// Every provider, in the order `default`, bare names and fallback try them.
    pub provider_order: Vec<ProviderKind>,
    /// A bare model name falls back to the other configured providers' default models.
    pub default_fallback: bool,
    /// Each provider's model in `default`.
    pub default_models: BTreeMap<ProviderKind, String>,
}

impl Default for AiConfig {
    fn default() -> Self {
        Self {
            providers: BTreeMap::new(),
            aliases: BTreeMap::new(),
            retry: RetryPolicy::default(),
            breaker: BreakerSettings::default(),
            timeout: Duration::from_secs(60),
            stream_idle_timeout: Duration::from_secs(30),
            stream_total_timeout: Duration::from_secs(600),
            usage_flush: Duration::from_millis(50),
            models_refresh: Duration::from_secs(600),
            provider_order: ProviderKind::ALL.to_vec(),
            default_fallback: false,
            default_models: ProviderKind::ALL
                .into_iter()
                .map(|k| (k, k.default_model().to_owned()))
                .collect(),
        }
    }
}

const TOP_KEYS: &[&str] = &[
    "providers",
    "aliases",
    "max_retries",
    "max_retry_wait",
    "timeout",
    "stream_idle_timeout",
    "stream_total_timeout",
    "breaker_threshold",
    "breaker_cooldown",
    "usage_flush",
    "models_refresh",
    "provider_order",
    "default_fallback",
];

/// Reads values by variable name (env) or key (file), collecting problems.
struct Reader<'a> {
    env: &'a HashMap<String, String>,
    file: Option<&'a Table>,
    problems: Vec<String>,
}

impl Reader<'_> {
    /// The variable's value, else the file's `[ai]` key, as text.
    fn text(&self, var: &str, key: &str) -> Option<String> {
        if let Some(v) = self
            .env
            .get(var)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
        {
            return Some(v.to_owned());
        }
        match self.file.and_then(|t| t.get(key))? {
            Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            other => Some(other.to_string()),
        }
    }

    fn duration(&mut self, var: &str, key: &str, default: Duration) -> Duration {
        match self.text(var, key) {
            None => default,
            Some(t) => duration::parse(&t).unwrap_or_else(|e| {
                self.problems.push(format!("{var} (ai.{key}): {e}"));
                default
            }),
        }
    }

    fn number(&mut self, var: &str, key: &str, default: u32) -> u32 {
        match self.text(var, key) {
            None => default,
            Some(t) => t.parse().unwrap_or_else(|_| {
                self.problems
                    .push(format!("{var} (ai.{key}): `{t}` is not a whole number"));
                default
            }),
        }
    }
}

impl AiConfig {
    /// Builds the configuration from variables (by name) and the file's `[ai]` table.
    pub fn load(env: &HashMap<String, String>, ai: Option<&Table>) -> Result<Self, Vec<String>> {
        let mut r = Reader {
            env,
            file: ai,
            problems: Vec::new(),
        };
        if let Some(t) = ai {
            for key in t.keys().filter(|k| !TOP_KEYS.contains(&k.as_str())) {
                r.problems.push(format!(
                    "ai.{key} is not a setting (known: {})",
                    TOP_KEYS.join(", ")
                ));
            }
        }
        let d = AiConfig::default();
        let providers = providers(&mut r);
        let timeout = r.duration("CONEA_AI_TIMEOUT", "timeout", d.timeout);
        let retry = RetryPolicy {
            max_retries: r.number("CONEA_AI_MAX_RETRIES", "max_retries", d.retry.max_retries),
            max_wait: r.duration(
                "CONEA_AI_MAX_RETRY_WAIT",
                "max_retry_wait",
                d.retry.max_wait,
            ),
            base: d.retry.base,
        };
        let breaker = BreakerSettings {
            failure_threshold: r
                .number(
                    "CONEA_AI_BREAKER_THRESHOLD",
                    "breaker_threshold",
                    d.breaker.failure_threshold,
                )
                .max(1),
            cooldown: r.duration(
                "CONEA_AI_BREAKER_COOLDOWN",
                "breaker_cooldown",
                d.breaker.cooldown,
            ),
        };
        let stream_idle_timeout = r.duration(
            "CONEA_AI_STREAM_IDLE_TIMEOUT",
            "stream_idle_timeout",
            d.stream_idle_timeout,
        );
        let stream_total_timeout = r.duration(
            "CONEA_AI_STREAM_TOTAL_TIMEOUT",
            "stream_total_timeout",
            d.stream_total_timeout,
        );
        let usage_flush = r.duration("CONEA_AI_USAGE_FLUSH", "usage_flush", d.usage_flush);
        for (var, v) in [
            ("CONEA_AI_USAGE_FLUSH", usage_flush),
            ("CONEA_AI_TIMEOUT", timeout),
            ("CONEA_AI_STREAM_IDLE_TIMEOUT", stream_idle_timeout),
            ("CONEA_AI_STREAM_TOTAL_TIMEOUT", stream_total_timeout),
        ] {
            if v.is_zero() {
                r.problems.push(format!("{var} must be longer than zero"));
            }
        }
        let models_refresh = r.duration(
            "CONEA_AI_MODELS_REFRESH",
            "models_refresh",
            d.models_refresh,
        );
        if models_refresh.is_zero() {
            r.problems
                .push("CONEA_AI_MODELS_REFRESH must be longer than zero".into());
        }
        let provider_order = match r.text("CONEA_AI_PROVIDER_ORDER", "provider_order") {
            None => d.provider_order.clone(),
            Some(t) => provider_order(&t).unwrap_or_else(|e| {
                r.problems
                    .push(format!("CONEA_AI_PROVIDER_ORDER (ai.provider_order): {e}"));
                d.provider_order.clone()
            }),
        };
        let default_fallback = match r.text("CONEA_AI_DEFAULT_FALLBACK", "default_fallback") {
            None => d.default_fallback,
            Some(t) => match t.as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    r.problems.push(format!(
                        "CONEA_AI_DEFAULT_FALLBACK (ai.default_fallback): `{t}` is not true or false"
                    ));
                    false
                }
            },
        };
        let default_models = ProviderKind::ALL
            .into_iter()
            .map(|k| {
                let file = ai
                    .and_then(|t| t.get("providers"))
                    .and_then(|p| p.get(k.name()))
                    .and_then(|p| p.get("default_model"))
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty());
                let model = r
                    .env
                    .get(k.default_model_variable())
                    .map(|v| v.trim())
                    .filter(|v| !v.is_empty())
                    .or(file)
                    .unwrap_or(k.default_model());
                (k, model.to_owned())
            })
            .collect();
        let aliases = aliases(ai.and_then(|t| t.get("aliases")), &mut r.problems);
        if !r.problems.is_empty() {
            return Err(r.problems);
        }
        Ok(Self {
            providers,
            aliases,
            retry,
            breaker,
            timeout,
            stream_idle_timeout,
            stream_total_timeout,
            usage_flush,
            models_refresh,
            provider_order,
            default_fallback,
            default_models,
        })
    }

    /// The variables that would turn a provider on (for the "none configured" message).
    pub fn provider_variables() -> Vec<&'static str> {
        ProviderKind::ALL.iter().map(|k| k.key_variable()).collect()
    }
}

/// `openai,anthropic,…`: each provider once; providers left out follow in the usual order.
fn provider_order(text: &str) -> Result<Vec<ProviderKind>, String> {
    let mut order = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let kind = ProviderKind::parse(name).ok_or_else(|| {
            format!("`{name}` is not a provider (openai, anthropic, cohere, gemini, ollama)")
        })?;
        if order.contains(&kind) {
            return Err(format!("`{name}` is named twice"));
        }
        order.push(kind);
    }
    for kind in ProviderKind::ALL {
        if !order.contains(&kind) {
            order.push(kind);
        }
    }
    Ok(order)
}

fn providers(r: &mut Reader<'_>) -> BTreeMap<ProviderKind, Endpoint> {
    let section = r.file.and_then(|t| t.get("providers"));
    let tables = match section {
        None => Table::new(),
        Some(Value::Table(t)) => t.clone(),
        Some(_) => {
            r.problems
                .push("ai.providers must be a table of providers".into());
            Table::new()
        }
    };
    for (name, v) in &tables {
        if ProviderKind::parse(name).is_none() {
            r.problems.push(format!(
                "ai.providers.{name} is not a provider (openai, anthropic, cohere, gemini, ollama)"
            ));
        } else if let Some(t) = v.as_table() {
            for k in t
                .keys()
                .filter(|k| !["api_key", "base_url", "default_model"].contains(&k.as_str()))
            {
                r.problems.push(format!(
                    "ai.providers.{name}.{k} is not a setting (api_key, base_url, default_model)"
                ));
            }
        } else {
            r.problems
                .push(format!("ai.providers.{name} must be a table"));
        }
    }
    let mut out = BTreeMap::new();
    for kind in ProviderKind::ALL {
        let file = tables.get(kind.name()).and_then(Value::as_table);
        let file_text = |k: &str| {
            file.and_then(|t| t.get(k))
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let env_text = |var: &str| {
            r.env
                .get(var)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let key = env_text(kind.key_variable()).or_else(|| file_text("api_key"));
        let base = env_text(kind.base_url_variable()).or_else(|| file_text("base_url"));
        let (enabled, base, key) = if kind.needs_key() {
            (key.is_some(), base, key)
        } else {
            // Ollama: OLLAMA_BASE_URL > OLLAMA_URL > file base_url; on with any, or a table
            let url = env_text(kind.base_url_variable())
                .or_else(|| env_text(kind.key_variable()))
                .or_else(|| file_text("base_url"));
            (url.is_some() || file.is_some(), url, file_text("api_key"))
        };
        if !enabled {
            continue;
        }
        let base = base.unwrap_or_else(|| kind.default_base_url().to_owned());
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            r.problems.push(format!(
                "{}: `{base}` is not an http:// or https:// URL",
                kind.base_url_variable()
            ));
            continue;
        }
        out.insert(kind, Endpoint::new(&base, key));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn table(text: &str) -> Table {
        let t: Table = text.parse().unwrap();
        t.get("ai").and_then(Value::as_table).cloned().unwrap()
    }

    #[test]
    fn the_settings_rows_state_the_real_defaults() {
        let defaults: HashMap<String, String> = ai_settings()
            .filter_map(|s| s.default.map(|d| (s.env.to_owned(), d.to_owned())))
            .collect();
        assert_eq!(
            AiConfig::load(&defaults, None).unwrap(),
            AiConfig::default()
        );
        for kind in ProviderKind::ALL {
            let row = ai_settings()
                .find(|s| s.env == kind.base_url_variable())
                .unwrap();
            if kind.needs_key() {
                assert_eq!(row.default, Some(kind.default_base_url()));
            }
        }
    }

    #[test]
    fn nothing_set_means_no_providers_and_defaults() {
        let c = AiConfig::load(&HashMap::new(), None).unwrap();
        assert!(c.providers.is_empty());
        assert_eq!(c, AiConfig::default());
    }

    #[test]
    fn keys_turn_providers_on_and_base_urls_override() {
        let c = AiConfig::load(
            &env(&[
                ("OPENAI_API_KEY", "sk-1"),
                ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/"),
                ("GEMINI_API_KEY", "g"),
                ("OLLAMA_URL", "http://127.0.0.1:11434"),
                ("COHERE_BASE_URL", "http://ignored-without-key"),
            ]),
            None,
        )
        .unwrap();
        let names: Vec<_> = c.providers.keys().map(|k| k.name()).collect();
        assert_eq!(names, vec!["openai", "gemini", "ollama"]);
        let openai = &c.providers[&ProviderKind::OpenAi];
        assert_eq!(openai.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(openai.api_key.as_deref(), Some("sk-1"));
        assert_eq!(
            c.providers[&ProviderKind::Gemini].base_url,
            "https://generativelanguage.googleapis.com"
        );
        assert!(!format!("{openai:?}").contains("sk-1"), "keys are redacted");
    }

    #[test]
    fn an_ollama_table_turns_it_on_at_the_default_url() {
        let c = AiConfig::load(&HashMap::new(), Some(&table("[ai.providers.ollama]\n"))).unwrap();
        assert_eq!(
            c.providers[&ProviderKind::Ollama].base_url,
            "http://127.0.0.1:11434"
        );
    }

    #[test]
    fn aliases_in_both_forms_and_settings_with_env_winning() {
        let t = table(
            r#"
            [ai]
            max_retries = 4
            max_retry_wait = "3s"
            stream_idle_timeout = "500ms"
            [ai.aliases]
            chat = ["openai/gpt-4o-mini", "ollama/hf.co/org/model:Q4"]
            [ai.aliases.long]
            targets = [{ target = "anthropic/claude", timeout = "20s", context_window = 200000 }]
            "#,
        );
        let c = AiConfig::load(&env(&[("CONEA_AI_MAX_RETRIES", "1")]), Some(&t)).unwrap();
        assert_eq!(c.retry.max_retries, 1);
        assert_eq!(c.retry.max_wait, Duration::from_secs(3));
        assert_eq!(c.stream_idle_timeout, Duration::from_millis(500));
        assert_eq!(c.aliases["chat"][1].model, "hf.co/org/model:Q4");
        let long = &c.aliases["long"][0];
        assert_eq!(long.provider, ProviderKind::Anthropic);
        assert_eq!(long.timeout, Some(Duration::from_secs(20)));
        assert_eq!(long.context_window, Some(200000));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let t = table(
            r#"
            [ai]
            retries = 3
            [ai.providers.mistral]
            [ai.aliases]
            a = ["nope/model", "openai"]
            b = []
            "c/d" = ["openai/x"]
            e = [{ target = "openai/x", context_window = -1 }]
            "#,
        );
        let problems = AiConfig::load(
            &env(&[
                ("CONEA_AI_MAX_RETRY_WAIT", "soon"),
                ("CONEA_AI_MAX_RETRIES", "two"),
                ("ANTHROPIC_API_KEY", "k"),
                ("ANTHROPIC_BASE_URL", "ftp://x"),
            ]),
            Some(&t),
        )
        .unwrap_err();
        let all = problems.join("\n");
        for needle in [
            "ai.retries is not a setting",
            "ai.providers.mistral is not a provider",
            "ai.aliases.a[0]: `nope` is not a provider",
            "ai.aliases.a[1]: `openai` is not `provider/model`",
            "ai.aliases.b must be a non-empty list",
            "ai.aliases.c/d",
            "ai.aliases.e[0]: `context_window`",
            "CONEA_AI_MAX_RETRY_WAIT",
            "CONEA_AI_MAX_RETRIES",
            "ANTHROPIC_BASE_URL",
        ] {
            assert!(all.contains(needle), "missing `{needle}` in:\n{all}");
        }
    }
}
