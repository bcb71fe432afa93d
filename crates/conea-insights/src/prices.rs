//! What a model's tokens cost, for the multi-model comparison: a built-in table of list
//! prices per provider and model (USD per million input and output tokens). A model the
//! table does not know has no cost (`null`), never a guessed one. The amount is computed in
//! whole nano-dollars, so it is exact for every price in the table.

use crate::conversation::Usage;
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

/// The table's prices of a model: its exact name, or a dated or `-latest` variant of a
/// name in the table (`gpt-4o-mini-2024-07-18`, `claude-3-5-haiku-latest`).
fn price(provider: &str, model: &str) -> Option<(u64, u64)> {
    PRICES
        .iter()
        .filter(|(p, m, _, _)| {
            *p == provider
                && (model == *m
                    || model
                        .strip_prefix(m)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|rest| {
                            rest == "latest" || rest.starts_with(|c: char| c.is_ascii_digit())
                        }))
        })
        .map(|(_, _, i, o)| (*i, *o))
        .next()
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

/// The cost of `usage` on `provider`'s `model`, or `None` when the table has no price.
pub fn cost(provider: &str, model: &str, usage: Usage) -> Option<Cost> {
    let (input, output) = price(provider, model)?;
    // µUSD per million tokens × tokens / 1,000 = nano-dollars.
    let nano = (usage.input_tokens.saturating_mul(input)
        + usage.output_tokens.saturating_mul(output))
        / 1_000;
    Some(Cost {
        currency: "USD",
        amount: decimal(nano),
    })
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
}
