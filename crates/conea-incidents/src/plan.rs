//! The escalation plan: every step an incident will take, keyed and timed.
//!
//! A plan is computed from the policy, the severity and an anchor (when the severity was
//! set: the opening time, or the time of a severity change). Each step becomes one durable
//! job whose unique key is [`job_key`]`(incident, step)`, scheduled at `due_at`.
//!
//! Timings, with `U = escalate_if_unacknowledged_after`, `I = escalation_interval` and
//! `R = escalate_if_unresolved_after`:
//! - `notify:<channel>` for each `notify` channel at the anchor;
//! - when `U` is set: with `page_on_call`, `escalate:primary` at `U` and
//!   `escalate:secondary` one `I` later; then `chain:1`, `chain:2`, … one `I` apart
//!   (critical by default: primary at 0, secondary at 5m, chain at 10m, 15m, 20m);
//! - when `R` is set: `commander`, `war_room` and `stakeholders` at `R` (critical: 15m);
//! - `business_hours_only`: the clock starts at the next opening, and a step that would
//!   fall outside business hours waits for the next opening.
//!
//! Page steps exist only for contacts that are configured. Acknowledge cancels the
//! `escalate:*`/`chain:*` steps ([`CancelOn::Acknowledge`]); resolve cancels everything.
//! A step already done is never planned again (re-planning after a restart or a severity
//! change yields only what is still to do).

use crate::policy::{ChannelKind, Commander, Policy};
use crate::severity::Severity;
use conea_core::clock::EpochMs;
use conea_core::ids::IncidentId;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The stable name of a step within an incident. Its text form (`notify:slack`,
/// `escalate:primary`, `escalate:secondary`, `chain:1`, `commander`, `war_room`,
/// `stakeholders`) is stored and used in job keys; the order is the plan's tie-break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepKey {
    Notify(ChannelKind),
    EscalatePrimary,
    EscalateSecondary,
    /// 1-based position in `contacts.escalation_chain`.
    Chain(u32),
    Commander,
    WarRoom,
    Stakeholders,
}

impl fmt::Display for StepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepKey::Notify(c) => write!(f, "notify:{c}"),
            StepKey::EscalatePrimary => f.write_str("escalate:primary"),
            StepKey::EscalateSecondary => f.write_str("escalate:secondary"),
            StepKey::Chain(n) => write!(f, "chain:{n}"),
            StepKey::Commander => f.write_str("commander"),
            StepKey::WarRoom => f.write_str("war_room"),
            StepKey::Stakeholders => f.write_str("stakeholders"),
        }
    }
}

impl FromStr for StepKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("unknown step `{s}`");
        Ok(match s {
            "escalate:primary" => StepKey::EscalatePrimary,
            "escalate:secondary" => StepKey::EscalateSecondary,
            "commander" => StepKey::Commander,
            "war_room" => StepKey::WarRoom,
            "stakeholders" => StepKey::Stakeholders,
            _ => {
                if let Some(c) = s.strip_prefix("notify:") {
                    StepKey::Notify(c.parse().map_err(|_| bad())?)
                } else if let Some(n) = s.strip_prefix("chain:") {
                    match n.parse::<u32>() {
                        Ok(k) if k >= 1 && k.to_string() == n => StepKey::Chain(k),
                        _ => return Err(bad()),
                    }
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

impl Serialize for StepKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StepKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What a step does when its job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    /// Notify the severity's responder on `channel` (skipped and recorded when the channel
    /// is not configured).
    Notify {
        channel: ChannelKind,
        responder: String,
    },
    /// Page one person: the on-call primary/secondary or a chain member.
    Page { role: String, contact: String },
    /// Summon the incident commander (`None`: not configured; record it).
    SummonCommander { commander: Option<Commander> },
    /// Post the war-room message (Slack) with the timeline link.
    OpenWarRoom,
    /// Tell the stakeholders (`contacts.stakeholders`).
    NotifyStakeholders { recipients: Vec<String> },
}

/// Which incident transition cancels a pending step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelOn {
    /// Acknowledge (or resolve) cancels it: escalation for lack of an acknowledgement.
    Acknowledge,
    /// Only resolve cancels it: notifications and the "unresolved" steps.
    Resolve,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub key: StepKey,
    pub due_at: EpochMs,
    pub action: Action,
    pub cancel_on: CancelOn,
}

/// The job engine's unique key of a step: `incident:{incident_id}:{step}`.
pub fn job_key(incident_id: &IncidentId, key: StepKey) -> String {
    format!("incident:{incident_id}:{key}")
}

/// What the plan needs to know about an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentState {
    pub severity: Severity,
    /// When the current severity was set: the opening time, or the last severity change.
    pub severity_since: EpochMs,
    pub acknowledged_at: Option<EpochMs>,
    pub resolved_at: Option<EpochMs>,
    /// Steps already carried out (their timeline entries).
    pub done: BTreeSet<StepKey>,
}

/// The full plan for `severity` anchored at `anchor`, ordered by due time, then key.
pub fn plan(policy: &Policy, severity: Severity, anchor: EpochMs) -> Vec<Step> {
    let row = policy.severity(severity);
    let hours = row.business_hours_only.then_some(&policy.business_hours);
    let start = hours.and_then(|h| h.next_opening(anchor)).unwrap_or(anchor);
    let due = |offset: Duration| -> EpochMs {
        let t = start.saturating_add(ms(offset));
        hours.and_then(|h| h.next_opening(t)).unwrap_or(t)
    };
    let mut steps = Vec::new();
    let mut seen = BTreeSet::new();
    for channel in &row.notify {
        if seen.insert(*channel) {
            steps.push(Step {
                key: StepKey::Notify(*channel),
                due_at: due(Duration::ZERO),
                action: Action::Notify {
                    channel: *channel,
                    responder: row.responder.clone(),
                },
                cancel_on: CancelOn::Resolve,
            });
        }
    }
    if let Some(unack) = row.escalate_if_unacknowledged_after {
        let contacts = &policy.contacts;
        let mut pages: Vec<(StepKey, String, String)> = Vec::new();
        if row.page_on_call {
            if let Some(p) = &contacts.on_call_sre.primary {
                pages.push((
                    StepKey::EscalatePrimary,
                    "On-call SRE (primary)".into(),
                    p.clone(),
                ));
            }
            if let Some(s) = &contacts.on_call_sre.secondary {
                pages.push((
                    StepKey::EscalateSecondary,
                    "On-call SRE (secondary)".into(),
                    s.clone(),
                ));
            }
        }
        for (i, c) in contacts.escalation_chain.iter().enumerate() {
            let n = u32::try_from(i + 1).unwrap_or(u32::MAX);
            pages.push((StepKey::Chain(n), c.role.clone(), c.contact.clone()));
        }
        let mut offset = unack;
        for (key, role, contact) in pages {
            steps.push(Step {
                key,
                due_at: due(offset),
                action: Action::Page { role, contact },
                cancel_on: CancelOn::Acknowledge,
            });
            offset = offset.saturating_add(row.escalation_interval);
        }
    }
    if let Some(unresolved) = row.escalate_if_unresolved_after {
        let at = due(unresolved);
        let commander = policy.contacts.incident_commander.clone();
        steps.push(Step {
            key: StepKey::Commander,
            due_at: at,
            action: Action::SummonCommander { commander },
            cancel_on: CancelOn::Resolve,
        });
        steps.push(Step {
            key: StepKey::WarRoom,
            due_at: at,
            action: Action::OpenWarRoom,
            cancel_on: CancelOn::Resolve,
        });
        steps.push(Step {
            key: StepKey::Stakeholders,
            due_at: at,
            action: Action::NotifyStakeholders {
                recipients: policy.contacts.stakeholders.clone(),
            },
            cancel_on: CancelOn::Resolve,
        });
    }
    steps.sort_by_key(|s| (s.due_at, s.key));
    steps
}

/// The steps still to do for an incident in `state`: nothing once resolved; no
/// acknowledge-cancelled steps once acknowledged; never a step already done.
pub fn remaining(policy: &Policy, state: &IncidentState) -> Vec<Step> {
    if state.resolved_at.is_some() {
        return Vec::new();
    }
    let acked = state.acknowledged_at.is_some();
    plan(policy, state.severity, state.severity_since)
        .into_iter()
        .filter(|s| !state.done.contains(&s.key))
        .filter(|s| !(acked && s.cancel_on == CancelOn::Acknowledge))
        .collect()
}

/// The step a running job should carry out, if it is still wanted in `state` (a job can
/// start just before its cancellation lands; the handler checks this first, inside the
/// transaction that records the step as done).
pub fn still_wanted(policy: &Policy, state: &IncidentState, key: StepKey) -> Option<Step> {
    remaining(policy, state).into_iter().find(|s| s.key == key)
}

/// Keys of pending steps that acknowledging cancels.
pub fn cancelled_by_acknowledge(pending: &[Step]) -> Vec<StepKey> {
    pending
        .iter()
        .filter(|s| s.cancel_on == CancelOn::Acknowledge)
        .map(|s| s.key)
        .collect()
}

/// Keys of pending steps that resolving cancels: all of them.
pub fn cancelled_by_resolve(pending: &[Step]) -> Vec<StepKey> {
    pending.iter().map(|s| s.key).collect()
}

/// The job changes that turn `pending` (scheduled, not yet run) into `wanted`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reconciled {
    /// Cancel these jobs (gone, or their time or action changed).
    pub cancel: Vec<StepKey>,
    /// Then enqueue these (new, or changed).
    pub schedule: Vec<Step>,
}

/// Diff for a re-plan (after a severity change, or to repair after a restart): steps
/// pending and wanted unchanged are left alone.
pub fn reconcile(pending: &[Step], wanted: &[Step]) -> Reconciled {
    Reconciled {
        cancel: pending
            .iter()
            .filter(|p| !wanted.contains(p))
            .map(|p| p.key)
            .collect(),
        schedule: wanted
            .iter()
            .filter(|w| !pending.contains(w))
            .cloned()
            .collect(),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
