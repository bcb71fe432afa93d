//! `CONEA_INSIGHTS_PRICES`: model prices that override or add to the insights' built-in
//! list-price table (`conea-insights/src/prices.rs`), per `provider/model`.
//!
//! The value is inline JSON (it starts with `{`) or the path of a file: JSON, or TOML when
//! the name ends in `.toml`. Either way one object whose keys are `provider/model` and whose
//! values are `{input, output}`: USD per million input and output tokens, at most six
//! decimals (whole micro-dollars, so costs are computed in integers):
//!
//! ```json
//! {"openai/gpt-4o-mini": {"input": 0.15, "output": 0.6}, "ollama/llama3.2": {"input": 0, "output": 0}}
//! ```

use super::declare::Rejected;
use super::ModelPrice;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The providers a price may name: the gateway's provider names (`conea-ai`'s
/// `ProviderKind`; a test of conea-insights keeps the two lists equal).
pub const PRICED_PROVIDERS: [&str; 5] = ["openai", "anthropic", "cohere", "gemini", "ollama"];

/// The largest price accepted, in USD per million tokens (a guard against a misplaced
/// decimal point, far above any list price).
const MAX_USD_PER_MILLION: u64 = 100_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    input: f64,
    output: f64,
}

/// Parses the setting's text (inline JSON or a file's path) into prices sorted by
/// provider and model; one problem per bad entry, or one for an unreadable document.
pub fn model_prices(v: &str) -> Result<Vec<ModelPrice>, Rejected> {
    let entries: BTreeMap<String, Entry> = if v.starts_with('{') {
        serde_json::from_str(v).map_err(|e| format!("is not a JSON object of prices: {e}"))?
    } else {
        let path = Path::new(v);
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the prices file {}: {e}", path.display()))?;
        if path.extension().is_some_and(|x| x == "toml") {
            toml::from_str(&text).map_err(|e| {
                format!(
                    "the prices file {} is not a TOML table of prices: {e}",
                    path.display()
                )
            })?
        } else {
            serde_json::from_str(&text).map_err(|e| {
                format!(
                    "the prices file {} is not a JSON object of prices: {e}",
                    path.display()
                )
            })?
        }
    };
    let mut prices = Vec::new();
    let mut problems = Vec::new();
    for (key, entry) in &entries {
        match price(key, entry) {
            Ok(p) => prices.push(p),
            Err(message) => problems.push(format!("`{key}`: {message}")),
        }
    }
    if problems.is_empty() {
        Ok(prices)
    } else {
        Err(Rejected(problems))
    }
}

fn price(key: &str, entry: &Entry) -> Result<ModelPrice, String> {
    let (provider, model) = key
        .split_once('/')
        .filter(|(p, m)| !p.is_empty() && !m.trim().is_empty())
        .ok_or("a key must be `provider/model` (e.g. `openai/gpt-4o-mini`)")?;
    if !PRICED_PROVIDERS.contains(&provider) {
        return Err(format!(
            "unknown provider `{provider}` (use {})",
            PRICED_PROVIDERS.join(", ")
        ));
    }
    Ok(ModelPrice {
        provider: provider.to_owned(),
        model: model.to_owned(),
        input: micros("input", entry.input)?,
        output: micros("output", entry.output)?,
    })
}

/// USD per million tokens as whole micro-dollars, exactly: the number's shortest decimal
/// text (what was written, for any price with up to six decimals) read digit by digit.
fn micros(field: &str, usd: f64) -> Result<u64, String> {
    let bad = || {
        format!("`{field}` must be USD per million tokens from 0 to {MAX_USD_PER_MILLION}, with at most 6 decimals (e.g. 0.15)")
    };
    if !usd.is_finite() || usd < 0.0 || usd > MAX_USD_PER_MILLION as f64 {
        return Err(bad());
    }
    // Rust prints an f64 without an exponent, as the shortest text that reads back the same.
    let text = format!("{usd}");
    let (whole, frac) = text.split_once('.').unwrap_or((text.as_str(), ""));
    if frac.len() > 6 {
        return Err(bad());
    }
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let frac: u64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
    Ok(whole * 1_000_000 + frac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(v: &str) -> Vec<String> {
        match model_prices(v) {
            Ok(p) => panic!("accepted {v}: {p:?}"),
            Err(Rejected(messages)) => messages,
        }
    }

    #[test]
    fn prices_are_read_exactly_in_micro_dollars_per_million_tokens() {
        let p = model_prices(
            r#"{"openai/gpt-4o-mini": {"input": 0.15, "output": 0.6},
                "ollama/library/llama3": {"input": 0, "output": 0.000001},
                "anthropic/claude-x": {"input": 3, "output": 15.5}}"#,
        )
        .ok()
        .unwrap();
        let got: Vec<(&str, &str, u64, u64)> = p
            .iter()
            .map(|p| (p.provider.as_str(), p.model.as_str(), p.input, p.output))
            .collect();
        assert_eq!(
            got,
            [
                ("anthropic", "claude-x", 3_000_000, 15_500_000),
                ("ollama", "library/llama3", 0, 1),
                ("openai", "gpt-4o-mini", 150_000, 600_000),
            ]
        );
        assert_eq!(model_prices("{}").ok().unwrap(), Vec::new());
    }

    #[test]
    fn each_bad_entry_is_one_problem_naming_its_key() {
        let got = problems(
            r#"{"gpt-4o": {"input": 1, "output": 1},
                "opneai/gpt-4o": {"input": 1, "output": 1},
                "openai/a": {"input": -1, "output": 1},
                "openai/b": {"input": 0.0000001, "output": 1},
                "openai/c": {"input": 1, "output": 1000000}}"#,
        );
        assert_eq!(got.len(), 5, "{got:?}");
        for key in [
            "gpt-4o",
            "opneai/gpt-4o",
            "openai/a",
            "openai/b",
            "openai/c",
        ] {
            assert!(
                got.iter().any(|m| m.starts_with(&format!("`{key}`"))),
                "{key}: {got:?}"
            );
        }
        for bad in [
            r#"{"openai/x": {"input": 1}}"#,
            r#"{"openai/x": {"input": 1, "output": 1, "cached": 1}}"#,
            r#"{"openai/x": {"input": "1", "output": 1}}"#,
            r#"{"openai/x": 1"#,
            "[1, 2]",
        ] {
            assert_eq!(problems(bad).len(), 1, "{bad}");
        }
        let missing = problems("/nonexistent/prices.json");
        assert!(
            missing[0].contains("/nonexistent/prices.json"),
            "{missing:?}"
        );
    }

    #[test]
    fn a_file_is_read_as_json_or_as_toml_by_its_name() {
        let dir = std::env::temp_dir().join(format!("conea-prices-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("prices.json");
        std::fs::write(&json, r#"{"gemini/g": {"input": 1.25, "output": 5}}"#).unwrap();
        let toml = dir.join("prices.toml");
        std::fs::write(&toml, "[\"gemini/g\"]\ninput = 1.25\noutput = 5\n").unwrap();
        for path in [&json, &toml] {
            let p = model_prices(path.to_str().unwrap()).ok().unwrap();
            assert_eq!(
                (p[0].provider.as_str(), p[0].model.as_str()),
                ("gemini", "g")
            );
            assert_eq!((p[0].input, p[0].output), (1_250_000, 5_000_000));
        }
        // TOML text in a `.json` file is not JSON: a problem naming the file.
        std::fs::write(&json, "[\"gemini/g\"]\ninput = 1\noutput = 5\n").unwrap();
        let bad = problems(json.to_str().unwrap());
        assert!(bad[0].contains("prices.json"), "{bad:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
