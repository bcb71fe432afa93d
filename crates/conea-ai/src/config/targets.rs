//! Alias targets: `provider/model`, alone or with a per-target timeout and context window.

use crate::providers::ProviderKind;
use conea_core::config::duration;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Value;

/// One `provider/model` target of an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub provider: ProviderKind,
    pub model: String,
    /// Overrides the default per-target timeout.
    pub timeout: Option<Duration>,
    /// The model's context window in tokens, when configured; a context-length failure
    /// only moves on to targets with a larger one.
    pub context_window: Option<u64>,
}

impl Target {
    /// Parses `provider/model` (the model may itself contain `/`).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (p, model) = text
            .split_once('/')
            .filter(|(_, m)| !m.trim().is_empty())
            .ok_or_else(|| format!("`{text}` is not `provider/model`"))?;
        let provider = ProviderKind::parse(p.trim()).ok_or_else(|| {
            format!("`{p}` is not a provider (openai, anthropic, cohere, gemini, ollama)")
        })?;
        Ok(Self {
            provider,
            model: model.trim().to_owned(),
            timeout: None,
            context_window: None,
        })
    }

    /// `model` on `provider`, with the default timeout.
    pub fn bare(provider: ProviderKind, model: &str) -> Self {
        Self {
            provider,
            model: model.to_owned(),
            timeout: None,
            context_window: None,
        }
    }

    pub fn name(&self) -> String {
        format!("{}/{}", self.provider.name(), self.model)
    }
}

pub(super) fn aliases(
    section: Option<&Value>,
    problems: &mut Vec<String>,
) -> BTreeMap<String, Vec<Target>> {
    let mut out = BTreeMap::new();
    let Some(section) = section else {
        return out;
    };
    let Some(table) = section.as_table() else {
        problems.push("ai.aliases must be a table of alias = [targets]".into());
        return out;
    };
    for (name, v) in table {
        let at = format!("ai.aliases.{name}");
        if name.contains('/') || name.trim().is_empty() {
            problems.push(format!(
                "{at}: an alias name cannot be empty or contain `/`"
            ));
            continue;
        }
        let list = match v {
            Value::Array(a) => Some(a),
            Value::Table(t) => t.get("targets").and_then(Value::as_array),
            _ => None,
        };
        let Some(list) = list.filter(|l| !l.is_empty()) else {
            problems.push(format!(
                "{at} must be a non-empty list of `provider/model` targets"
            ));
            continue;
        };
        let targets: Vec<Target> = list
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                target(item)
                    .map_err(|e| problems.push(format!("{at}[{i}]: {e}")))
                    .ok()
            })
            .collect();
        out.insert(name.clone(), targets);
    }
    out
}

fn target(item: &Value) -> Result<Target, String> {
    match item {
        Value::String(s) => Target::parse(s),
        Value::Table(t) => {
            for k in t.keys() {
                if !["target", "timeout", "context_window"].contains(&k.as_str()) {
                    return Err(format!(
                        "`{k}` is not a target setting (target, timeout, context_window)"
                    ));
                }
            }
            let name = t
                .get("target")
                .and_then(Value::as_str)
                .ok_or("a target table needs `target = \"provider/model\"`")?;
            let mut target = Target::parse(name)?;
            target.timeout = match t.get("timeout") {
                None => None,
                Some(Value::String(s)) => Some(duration::parse(s)?),
                Some(Value::Integer(n)) if *n > 0 => Some(Duration::from_secs(*n as u64)),
                Some(_) => return Err("`timeout` must be a duration like \"20s\"".into()),
            };
            target.context_window = match t.get("context_window") {
                None => None,
                Some(Value::Integer(n)) if *n > 0 => Some(*n as u64),
                Some(_) => {
                    return Err("`context_window` must be a positive number of tokens".into())
                }
            };
            Ok(target)
        }
        _ => Err("a target is \"provider/model\" or { target = \"provider/model\", … }".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_slash_model_splits_at_the_first_slash() {
        let t = Target::parse("ollama/hf.co/org/model:Q4").unwrap();
        assert_eq!(
            (t.provider, t.model.as_str()),
            (ProviderKind::Ollama, "hf.co/org/model:Q4")
        );
        assert_eq!(t.name(), "ollama/hf.co/org/model:Q4");
        assert!(Target::parse("openai/").is_err());
        assert!(Target::parse("gpt-4o").is_err());
        assert!(Target::parse("azure/gpt-4o").is_err());
    }
}
