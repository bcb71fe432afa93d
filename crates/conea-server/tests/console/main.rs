//! The web console's tests: over plain HTTP (`http`) and in a real headless Chromium driven
//! through WebDriver (`browser`), against the real application started by conea-testkit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod fake_ai;
mod fixture;
mod http;
