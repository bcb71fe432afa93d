//! Ask your shop: answers from a model that sees the shop's data only through Conea's own
//! analytics and read functions, run by Conea as the caller inside the caller's
//! organization, with every number of the answer checked against what the tools returned.
//!
//! - [`conversation`] the provider-neutral transcript and the [`conversation::Model`] trait;
//! - [`tools`] the catalogue (JSON Schemas), argument checks, the executor and the bounded
//!   summaries the model is shown;
//! - [`grounding`] the numbers of a text and the check against the results;
//! - [`prompt`] the system prompt; [`ask`] the loop and [`ask::InsightsService`];
//! - [`threads`] conversations of follow-up questions, stored;
//! - [`job`] questions as `insights.ask` jobs (`"async": true`);
//! - [`digest`] the digest report of schedules and its anomaly statistics.

pub mod ask;
pub mod compare;
pub mod conversation;
pub mod digest;
pub mod gateway;
pub mod grounding;
pub mod install;
pub mod job;
pub mod prices;
pub mod prompt;
pub mod threads;
pub mod tools;

pub use ask::{
    Answer, Events, Exchange, InsightsService, InsightsSettings, Prepared, Progress, Question,
    MAX_TOOL_CALLS,
};
pub use threads::{ThreadService, ThreadStore};
