//! conea-ai's integration tests, one test binary: each provider client, the router and
//! streaming against the local provider fakes (`fakes/`).

mod fakes;

mod discovery;
mod embeddings;
mod params;
mod providers;
mod router;
mod streaming;
mod tools;
