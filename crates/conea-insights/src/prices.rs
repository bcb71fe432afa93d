//! What a model's tokens cost, for the multi-model comparison: a built-in table of list
//! prices per provider and model (USD per million input and output tokens), which the
//! setting `CONEA_INSIGHTS_PRICES` overrides or adds to per `provider/model`. A model neither
//! knows has no cost (`null`), never a guessed one. The amount is computed in integers, in
//! whole nano-dollars: exact for every price of the built-in table, and for a configured
//! price (whole micro-dollars per million tokens) exact to the nano-dollar, the rest cut.

use crate::conversation::Usage;
use conea_core::config::ModelPrice;
use serde::Serialize;

/// `(provider, model, input µUSD per million tokens, output µUSD per million tokens)`:
/// providers' list prices of the models Conea names as defaults (dated snapshots of a
/// model share its price).
const PRICES: &[(&str, &str, u64, u64)] = &[
    ("openai", "gpt-4o-mini", 150_000, 600_000),
    ("openai", "gpt-4o", 2_500_000, 10_000_000),
    ("anthropic", "claude-3-5-haiku", 800_000, 4_000_000),
    ("anthropic", "claude-3-5-sonnet", 3_000_000, 15_000_000),
    ("gemini", "gemini-1.5-flash", 75_000, 300_000),
    ("gemini", "gemini-1.5-pro", 1_250_000, 5_000_000),
    ("cohere", "command-r", 150_000, 600_000),
    ("cohere", "command-r-plus", 2_500_000, 10_000_000),
];

/// One answer's cost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cost {
    /// Always `USD`.
    pub currency: &'static str,
    /// A decimal string (`0.0000093`).
    pub amount: String,
}

/// Whether a price for `listed` applies to `model`: its exact name, or a dated or `-latest`
/// variant of it (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-latest`).
fn applies(listed: &str, model: &str) -> bool {
    model == listed
        || model
            .strip_prefix(listed)
            .and_then(|rest| rest.strip_prefix('-'))
            .is_some_and(|rest| rest == "latest" || rest.starts_with(|c: char| c.is_ascii_digit()))
}

/// The prices of models: the built-in table and the configured ones
/// (`CONEA_INSIGHTS_PRICES`), which win.
#[derive(Debug, Clone, Default)]
pub struct Prices {
    configured: Vec<ModelPrice>,
}

impl Prices {
    /// The built-in table with `configured` over it.
    pub fn new(configured: Vec<ModelPrice>) -> Self {
        Prices { configured }
    }

    /// A model's `(input, output)` prices: a configured price for its exact name, then one
    /// for a name it is a variant of; then the same in the built-in table. So a configured
    /// `openai/gpt-4o` also prices `gpt-4o-2024-08-06`, unless that name has its own.
    fn price(&self, provider: &str, model: &str) -> Option<(u64, u64)> {
        let configured: Vec<(&str, &str, u64, u64)> = self
            .configured
            .iter()
            .map(|p| (p.provider.as_str(), p.model.as_str(), p.input, p.output))
            .collect();
        for table in [configured.as_slice(), PRICES] {
            for exact in [true, false] {
                let found = table.iter().find(|(p, m, _, _)| {
                    *p == provider
                        && if exact {
                            *m == model
                        } else {
                            applies(m, model)
                        }
                });
                if let Some((_, _, input, output)) = found {
                    return Some((*input, *output));
                }
            }
        }
        None
    }

    /// The cost of `usage` on `provider`'s `model`, or `None` when no price is known.
    pub fn cost(&self, provider: &str, model: &str, usage: Usage) -> Option<Cost> {
        let (input, output) = self.price(provider, model)?;
        // µUSD per million tokens × tokens / 1,000 = nano-dollars.
        let nano = (usage.input_tokens.saturating_mul(input))
            .saturating_add(usage.output_tokens.saturating_mul(output))
            / 1_000;
        Some(Cost {
            currency: "USD",
            amount: decimal(nano),
        })
    }
}

fn decimal(nano: u64) -> String {
    let whole = nano / 1_000_000_000;
    let frac = format!("{:09}", nano % 1_000_000_000);
    let frac = frac.trim_end_matches('0');
    if frac.is_empty() {
        format!("{whole}.00")
    } else if frac.len() < 2 {
        format!("{whole}.{frac}0")
    } else {
        format!("{whole}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input_tokens: u64, output_tokens: u64) -> Usage {
        Usage {
            input_tokens,
            output_tokens,
        }
    }

    fn cost(provider: &str, model: &str, usage: Usage) -> Option<Cost> {
        Prices::default().cost(provider, model, usage)
    }

    fn configured(provider: &str, model: &str, input: u64, output: u64) -> ModelPrice {
        ModelPrice {
            provider: provider.into(),
            model: model.into(),
            input,
            output,
        }
    }

    #[test]
    fn a_known_model_costs_its_tokens_at_list_price_and_an_unknown_one_has_no_cost() {
        let c = cost("openai", "gpt-4o-mini", usage(22, 10)).unwrap();
        assert_eq!((c.currency, c.amount.as_str()), ("USD", "0.0000093"));
        assert_eq!(
            cost("openai", "gpt-4o-mini-2024-07-18", usage(1_000_000, 0))
                .unwrap()
                .amount,
            "0.15"
        );
        assert_eq!(
            cost(
                "anthropic",
                "claude-3-5-haiku-latest",
                usage(1_000_000, 1_000_000)
            )
            .unwrap()
            .amount,
            "4.80"
        );
        // `gpt-4o-mini` is not a dated `gpt-4o`; unknown models and providers have none.
        assert_eq!(
            cost("openai", "gpt-4o-mini", usage(1_000_000, 0))
                .unwrap()
                .amount,
            "0.15"
        );
        assert_eq!(cost("openai", "gpt-test", usage(5, 5)), None);
        assert_eq!(cost("ollama", "llama3.2", usage(5, 5)), None);
    }

    #[test]
    fn a_configured_price_overrides_the_table_and_prices_a_model_it_lacks() {
        let prices = Prices::new(vec![
            configured("openai", "gpt-4o", 1_000_000, 2_000_000),
            configured("openai", "gpt-4o-2024-08-06", 3_000_000, 0),
            configured("ollama", "llama3.2", 0, 0),
        ]);
        let million = usage(1_000_000, 1_000_000);
        let amount = |provider, model| prices.cost(provider, model, million).map(|c| c.amount);
        assert_eq!(amount("openai", "gpt-4o").as_deref(), Some("3.00"));
        // A variant takes its base name's configured price, unless it has its own.
        assert_eq!(
            amount("openai", "gpt-4o-2024-05-13").as_deref(),
            Some("3.00")
        );
        assert_eq!(
            prices
                .cost("openai", "gpt-4o-2024-08-06", usage(1_000_000, 0))
                .unwrap()
                .amount,
            "3.00"
        );
        assert_eq!(
            prices
                .cost("openai", "gpt-4o", usage(1_000_000, 0))
                .unwrap()
                .amount,
            "1.00"
        );
        // Not a variant of `gpt-4o`: the built-in price of `gpt-4o-mini` still applies.
        assert_eq!(amount("openai", "gpt-4o-mini").as_deref(), Some("0.75"));
        assert_eq!(amount("ollama", "llama3.2").as_deref(), Some("0.00"));
        assert_eq!(amount("ollama", "other"), None);
    }

    #[test]
    fn the_setting_names_the_same_providers_as_the_gateway() {
        let gateway: Vec<&str> = conea_ai::ProviderKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        assert_eq!(
            gateway,
            conea_core::config::prices::PRICED_PROVIDERS.to_vec()
        );
    }
}
