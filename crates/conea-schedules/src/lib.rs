//! Report schedules: an analytics report run on a cron expression in an IANA time zone and
//! delivered by e-mail, Slack and signed webhooks.
//!
//! - [`cron`] the expression (croner) evaluated on jiff's wall clock;
//! - [`model`] the schedule record, destinations and run state; [`store`] the
//!   `ScheduleStore` trait (conea-store implements it);
//! - [`validate`] the definition checked field by field (errors name the field);
//! - [`service`] `SchedulesService` (CRUD, run-now, the scheduler tick) and the pure
//!   firing plan;
//! - [`render`] the report as text, HTML (with an inline SVG chart), Slack and webhook
//!   bodies; [`deliver`] sending over the incident channels' code;
//! - [`job`] the `schedules.run` job kind; [`install`] the module the platform wires.
//!
//! Exactly once per slot: every replica ticks; a tick moves a due schedule's
//! `next_slot_at` on and inserts the slot's run job in one transaction, only if
//! `next_slot_at` still holds the value it read, so one replica wins each slot. After a
//! downtime the latest missed slot runs and the earlier ones are counted as skipped.

pub mod chart_png;
pub mod cron;
pub mod deliver;
pub mod install;
pub mod job;
pub mod model;
pub mod render;
pub mod service;
pub mod store;
pub mod validate;

pub use install::SchedulesModule;
pub use model::{Channel, Destination, Firing, Language, RunState, Schedule, ScheduleReport};
pub use service::SchedulesService;
pub use store::ScheduleStore;
