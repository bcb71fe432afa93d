//! conea-shopify's integration tests, one test binary: the REST and GraphQL clients against
//! conea-testkit's fake Shopify, and webhook verification.

mod graphql;
mod rest;
mod webhook;
