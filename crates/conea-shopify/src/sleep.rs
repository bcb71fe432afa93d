//! Waiting as a dependency: the one [`Sleeper`] of `conea_core::sleep`, re-exported where the
//! client's callers have always found it.

pub use conea_core::sleep::{FakeSleeper, Sleeper, TokioSleeper};
