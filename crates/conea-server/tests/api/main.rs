//! conea-server's integration tests, one test binary: the API through the running
//! application (conea-testkit's `TestApp`), one module per area.

mod ai;
mod ai_params;
mod analytics;
mod auth;
mod connections;
mod data;
mod incidents;
mod input;
mod insights;
mod insights_digest;
mod jobs;
mod management;
mod pipeline;
mod rate_limits;
mod replicas;
mod schedules;
mod shop_reads;
mod shopify;
mod shopify_bench;
mod shopify_install;
mod shopify_settings;
mod sink;
