//! Incidents and escalation.
//!
//! The pure parts decide *what* should happen to an incident and *what* goes on the wire.
//! On top of them: [`store`] (records and the `IncidentStore` trait that `conea-store`
//! implements), [`engine`] (the `IncidentService` and the `incidents.step` /
//! `incidents.notify` job kinds: one durable job per escalation step, unique per
//! `(incident, step)`, one per delivery) and [`delivery`] (sending over HTTP and SMTP).
//! The server wires them to the job engine and to routes; no SQL and no axum here.
//!
//! - [`policy`]: the escalation policy file (`CONEA_ESCALATION_CONFIG`, YAML), its defaults
//!   (the operations guide's matrix, no channels) and its validation (every problem names
//!   its key path).
//! - [`business_hours`]: "is it open now?" and "when does it open next?" in a time zone
//!   (bundled tz database, so the result does not depend on the machine).
//! - [`plan`]: the escalation plan of an incident as keyed, timed steps; what acknowledge,
//!   resolve and a severity change cancel or add.
//! - [`channels`]: payload builders for Slack, PagerDuty Events v2, Jira Cloud v3, Standard
//!   Webhooks and e-mail (plus a thin SMTP `send`).
//! - [`alertmanager`]: the Alertmanager webhook (version 4) as incident signals.
//! - [`signed_link`]: HMAC-signed, expiring action tokens for acknowledge/resolve links.
//! - [`postmortem`]: timeline types and the Markdown postmortem draft.
//!
//! Times are epoch milliseconds ([`conea_core::clock::EpochMs`]) taken from the caller's
//! `Clock`; nothing here reads the wall clock.

pub mod alertmanager;
pub mod business_hours;
pub mod channels;
pub mod delivery;
pub mod engine;
pub mod install;
pub mod plan;
pub mod policy;
pub mod postmortem;
pub mod severity;
pub mod signed_link;
pub mod store;
#[cfg(test)]
pub(crate) mod testing;

pub use business_hours::BusinessHours;
pub use install::IncidentsModule;
pub use plan::{Action, CancelOn, IncidentState, Reconciled, Step, StepKey};
pub use policy::{ChannelKind, Policy, PolicyError, Problem};
pub use severity::Severity;

/// HMAC-SHA256 keyed with `key`. HMAC accepts keys of any length, so the error branch of
/// `new_from_slice` cannot happen; it falls back to a zero key rather than panicking.
pub(crate) fn hmac_sha256(key: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap_or_else(|_| {
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new(&Default::default())
    })
}
