//! Multi-model comparison: the same question answered by each of several models at once,
//! side by side, for teams choosing a model. A model that fails shows its error; the
//! others still answer.

use crate::ask::{Answer, InsightsService, Question};
use conea_core::error::{CoreError, CoreResult};
use conea_core::principal::Principal;
use serde::Serialize;
use std::time::Instant;

/// Models one comparison may ask.
pub const MAX_COMPARED_MODELS: usize = 5;

/// Why one model of a comparison gave no answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelError {
    pub code: String,
    pub message: String,
}

/// One model's side: its answer (figures, tool calls, grounding, usage) or its error.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// As asked (alias or `provider/model`).
    pub model: String,
    /// Wall time of this model's whole question (its turns and tool calls).
    pub latency_ms: u64,
    /// The answer's tokens at the price of its provider and model (`crate::prices`: the
    /// built-in list prices, `CONEA_INSIGHTS_PRICES` over them); `null` when the price is
    /// unknown or the model failed.
    pub cost: Option<crate::prices::Cost>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ModelError>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub question: String,
    pub results: Vec<Side>,
}

impl InsightsService {
    /// Answers `q` with each of `models` concurrently [ai:use, data:read, checked once
    /// before any provider call]. 2 to [`MAX_COMPARED_MODELS`] distinct models.
    pub async fn compare(
        &self,
        by: &Principal,
        q: &Question,
        models: &[String],
    ) -> CoreResult<Comparison> {
        let prepared = self.prepare(by, q).await?;
        let mut distinct: Vec<&str> = Vec::new();
        for m in models.iter().map(|m| m.trim()) {
            if m.is_empty() {
                return Err(CoreError::invalid("models", "A model name is empty."));
            }
            if !distinct.contains(&m) {
                distinct.push(m);
            }
        }
        if distinct.len() < 2 || distinct.len() > MAX_COMPARED_MODELS {
            return Err(CoreError::invalid(
                "models",
                format!(
                    "Compare 2 to {MAX_COMPARED_MODELS} distinct models (aliases or provider/model); for one model use `model`."
                ),
            ));
        }
        let sides = distinct.iter().map(|model| {
            let p = prepared.with_model(model);
            async move {
                let started = Instant::now();
                let result = self.answer(by, &p, &[], None).await;
                let latency_ms = started.elapsed().as_millis() as u64;
                let (answer, error) = match result {
                    Ok(a) => (Some(a), None),
                    Err(e) => (
                        None,
                        Some(ModelError {
                            code: e.code().as_str().to_owned(),
                            message: e.to_string(),
                        }),
                    ),
                };
                let cost = answer
                    .as_ref()
                    .and_then(|a| self.settings().prices.cost(&a.provider, &a.model, a.usage));
                Side {
                    model: (*model).to_owned(),
                    latency_ms,
                    cost,
                    answer,
                    error,
                }
            }
        });
        Ok(Comparison {
            question: prepared.question.clone(),
            results: futures::future::join_all(sides).await,
        })
    }
}
