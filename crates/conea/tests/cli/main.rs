//! The CLI's integration tests, one test binary: the built `conea` binary run in temporary
//! data directories (`support`), one module per command group.

mod support;

mod bench;
mod cli;
mod contract;
mod diagnose;
mod faults;
mod incidents_crash;
mod insights_crash;
mod jobs_crash;
mod profile;
mod replicas;
mod shopify;
mod standby;
