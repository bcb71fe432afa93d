//! The escalation engine: the incident service (open with dedup, acknowledge, resolve,
//! escalate, notes, severity changes, signed links, postmortem) and the two job kinds that
//! carry out the plan.
//!
//! - `incidents.step`: one durable scheduled job per plan step, unique per
//!   `(incident, step)` ([`plan::job_key`]), scheduled at the step's due time. When it runs
//!   it re-reads the incident and does nothing if the step no longer applies
//!   ([`plan::still_wanted`]); otherwise it records the step on the timeline and enqueues its
//!   deliveries in one transaction ([`IncidentStore::record_step`]), so a restart neither
//!   loses nor repeats a step.
//! - `incidents.notify`: one durable job per delivery (channel × step), retried with the job
//!   engine's backoff; each attempt's outcome goes on the timeline. A failing channel only
//!   fails its own job: the escalation's step jobs do not wait for it.

use crate::channels::{IncidentMessage, Links, Notice};
use crate::delivery::{Deliver, Delivery};
use crate::plan::{self, Action, IncidentState, StepKey};
use crate::policy::{ChannelKind, Policy};
use crate::postmortem::{self, EntryKind};
use crate::severity::Severity;
use crate::signed_link::{LinkAction, LinkRejection, LinkSigner};
use crate::store::{Entry, Incident, IncidentFilter, IncidentStore, NewIncident, Opened, Status};
use async_trait::async_trait;
use conea_core::auth::AuthFailure;
use conea_core::clock::{Clock, EpochMs};
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::{IncidentId, OrgId};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::ErrorCode;
use conea_jobs::service::JobService;
use conea_jobs::{JobContext, JobError, JobKind, NewJob};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub const STEP_KIND: &str = "incidents.step";
pub const NOTIFY_KIND: &str = "incidents.notify";
/// Attempts of one delivery before it is given up (and recorded as failed).
pub const NOTIFY_ATTEMPTS: u32 = 5;
/// How long acknowledge/resolve links in notifications stay valid.
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// Where the policy came from, for `/health` and the start log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    /// No `CONEA_ESCALATION_CONFIG`: the guide's matrix, no channels.
    Default,
    File(String),
}

/// What the service and the job handlers share.
pub struct Engine {
    pub store: Arc<dyn IncidentStore>,
    pub policy: Arc<Policy>,
    pub source: PolicySource,
    pub signer: LinkSigner,
    /// Absolute base of links in notifications (`http://host:port`, no trailing slash).
    pub public_url: String,
    pub deliver: Arc<dyn Deliver>,
}

impl Engine {
    /// The channels of the policy that are configured.
    pub fn configured_channels(&self) -> Vec<ChannelKind> {
        ChannelKind::ALL
            .into_iter()
            .filter(|c| self.policy.channels.is_configured(*c))
            .collect()
    }

    fn message(&self, i: &Incident, now: EpochMs, with_actions: bool) -> IncidentMessage {
        let link = |a: LinkAction| {
            with_actions.then(|| {
                format!(
                    "{}/v1/incidents/actions/{}",
                    self.public_url,
                    self.signer.issue(i.id.as_str(), a, now, LINK_TTL)
                )
            })
        };
        IncidentMessage {
            incident_id: i.id.to_string(),
            title: i.title.clone(),
            severity: i.severity,
            summary: i.summary.clone(),
            opened_at: i.opened_at,
            responder: self.policy.severity(i.severity).responder.clone(),
            source: i.source.clone(),
            dedup_key: i.dedup_key.clone(),
            links: Links {
                timeline: format!("{}/v1/incidents/{}", self.public_url, i.id),
                acknowledge: if i.status == Status::Open {
                    link(LinkAction::Acknowledge)
                } else {
                    None
                },
                resolve: link(LinkAction::Resolve),
            },
        }
    }

    async fn state(&self, i: &Incident) -> CoreResult<IncidentState> {
        let done: BTreeSet<StepKey> = self
            .store
            .timeline(&i.id)
            .await?
            .into_iter()
            .filter_map(|e| e.step.and_then(|s| s.parse().ok()))
            .collect();
        Ok(IncidentState {
            severity: i.severity,
            severity_since: i.severity_since,
            acknowledged_at: i.acknowledged_at,
            resolved_at: i.resolved_at,
            done,
        })
    }
}

/// Input of `POST /v1/incidents` (and of detectors and Alertmanager).
#[derive(Debug, Clone)]
pub struct Report {
    pub title: String,
    pub severity: Severity,
    pub source: Option<String>,
    pub dedup_key: Option<String>,
    pub summary: Option<String>,
    pub details: Option<Value>,
}

/// Alert fingerprints handled at once within one Alertmanager delivery.
const ALERT_CONCURRENCY: usize = 8;

enum Effect {
    Opened,
    Repeated,
    Resolved,
}

/// What an Alertmanager delivery did, incident ids by effect.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AlertOutcome {
    pub opened: Vec<IncidentId>,
    pub repeated: Vec<IncidentId>,
    pub resolved: Vec<IncidentId>,
}

/// An incident with its timeline.
#[derive(Debug, Clone)]
pub struct IncidentView {
    pub incident: Incident,
    pub timeline: Vec<Entry>,
}

pub struct IncidentService {
    engine: Arc<Engine>,
    jobs: Arc<JobService>,
    clock: Arc<dyn Clock>,
}

fn actor(p: &Principal) -> String {
    format!("{}:{}", p.kind.as_str(), p.subject)
}

impl IncidentService {
    pub fn new(engine: Arc<Engine>, jobs: Arc<JobService>, clock: Arc<dyn Clock>) -> Self {
        IncidentService {
            engine,
            jobs,
            clock,
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// `POST /v1/incidents` [incidents:manage].
    pub async fn open(&self, by: &Principal, report: Report) -> CoreResult<Opened> {
        by.require(Permission::IncidentsManage)?;
        self.open_for(&by.org_id, report, Some(actor(by))).await
    }

    /// Opens (or deduplicates) an incident for an organization without a principal: the
    /// detectors and the already-authorized Alertmanager intake use it.
    pub async fn open_for(
        &self,
        org: &OrgId,
        report: Report,
        actor: Option<String>,
    ) -> CoreResult<Opened> {
        let title = report.title.trim().to_string();
        if title.is_empty() {
            return Err(CoreError::invalid("title", "`title` must not be empty."));
        }
        if title.chars().count() > 500 {
            return Err(CoreError::invalid(
                "title",
                "`title` must be at most 500 characters.",
            ));
        }
        let id = IncidentId::generate();
        let dedup_key = report
            .dedup_key
            .filter(|k| !k.trim().is_empty())
            .unwrap_or_else(|| id.to_string());
        let now = self.clock.now_ms();
        let source = report.source.unwrap_or_else(|| "api".into());
        let new = NewIncident {
            id,
            org_id: org.clone(),
            title: title.clone(),
            severity: report.severity,
            source: source.clone(),
            dedup_key,
            summary: report.summary.unwrap_or_default(),
            details: report.details.unwrap_or_else(|| json!({})),
        };
        let mut detected = Entry::new(
            now,
            EntryKind::Detected,
            format!("Opened as {} from {source}: {title}", report.severity),
        );
        detected.actor = actor.clone();
        let mut repeat = Entry::new(
            now,
            EntryKind::Detected,
            format!("Reported again from {source}"),
        );
        repeat.actor = actor;
        let opened = self.engine.store.open(&new, &detected, &repeat).await?;
        if opened.created {
            self.schedule(&opened.incident).await?;
        }
        Ok(opened)
    }

    /// Enqueues every remaining step of the incident's plan as a scheduled job.
    async fn schedule(&self, i: &Incident) -> CoreResult<usize> {
        let state = self.engine.state(i).await?;
        let steps = plan::remaining(&self.engine.policy, &state);
        let n = steps.len();
        for step in steps {
            let args = StepArgs {
                incident_id: i.id.clone(),
                step: step.key,
            };
            let mut job =
                NewJob::of::<StepHandler>(i.org_id.clone(), &args).map_err(CoreError::internal)?;
            job.scheduled_at = Some(step.due_at);
            job.unique_key = Some(plan::job_key(&i.id, step.key));
            self.jobs.enqueue(job).await?;
        }
        Ok(n)
    }

    /// Cancels pending step jobs of the incident (`only`: just these steps).
    async fn cancel_steps(&self, i: &Incident, only: Option<&[StepKey]>) -> CoreResult<usize> {
        let prefix = format!("{}:incident:{}:", i.org_id, i.id);
        let now = self.clock.now_ms();
        let mut n = 0;
        for job in self.engine.store.pending_jobs(&prefix).await? {
            if job.kind != STEP_KIND {
                continue;
            }
            let key = StepArgs::deserialize(&job.args).ok().map(|a| a.step);
            let wanted = match (only, key) {
                (None, _) => true,
                (Some(keys), Some(k)) => keys.contains(&k),
                (Some(_), None) => false,
            };
            if wanted {
                self.jobs.store().cancel(&job.job_id, now).await?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// The incident `id` (as the caller wrote it) of the caller's organization; a text that
    /// is not an incident id is as unknown as another organization's id.
    async fn visible(&self, by: &Principal, id: &str) -> CoreResult<Incident> {
        by.require(Permission::IncidentsManage)?;
        let not_found = || CoreError::not_found("incident", id);
        let id = IncidentId::parse(id).map_err(|_| not_found())?;
        self.engine
            .store
            .get(&by.org_id, &id)
            .await?
            .ok_or_else(not_found)
    }

    pub async fn get(&self, by: &Principal, id: &str) -> CoreResult<IncidentView> {
        let incident = self.visible(by, id).await?;
        let timeline = self.engine.store.timeline(&incident.id).await?;
        Ok(IncidentView { incident, timeline })
    }

    pub async fn list(
        &self,
        by: &Principal,
        status: Option<&str>,
        severity: Option<&str>,
        limit: u32,
    ) -> CoreResult<Vec<Incident>> {
        by.require(Permission::IncidentsManage)?;
        let status = status
            .map(|s| {
                s.parse::<Status>()
                    .map_err(|m| CoreError::invalid("status", m))
            })
            .transpose()?;
        let severity = severity
            .map(|s| {
                s.parse::<Severity>()
                    .map_err(|m| CoreError::invalid("severity", m))
            })
            .transpose()?;
        Ok(self
            .engine
            .store
            .list(
                &by.org_id,
                &IncidentFilter {
                    status,
                    severity,
                    limit,
                },
            )
            .await?)
    }

    pub async fn acknowledge(&self, by: &Principal, id: &str) -> CoreResult<Incident> {
        let i = self.visible(by, id).await?;
        self.do_acknowledge(i, actor(by)).await
    }

    async fn do_acknowledge(&self, i: Incident, who: String) -> CoreResult<Incident> {
        let now = self.clock.now_ms();
        let Some(acked) = self.engine.store.acknowledge(&i.id, &who, now).await? else {
            return Err(CoreError::Conflict {
                code: ErrorCode::IncidentNotOpen,
                message: format!(
                    "Incident {} is {}; only an open incident can be acknowledged.",
                    i.id, i.status
                ),
            });
        };
        self.engine
            .store
            .append(
                &i.id,
                &Entry::new(now, EntryKind::Acknowledged, "Acknowledged").actor(who.clone()),
            )
            .await?;
        let pending = plan::remaining(&self.engine.policy, &self.engine.state(&i).await?);
        let cancel = plan::cancelled_by_acknowledge(&pending);
        self.cancel_steps(&acked, Some(&cancel)).await?;
        self.status_notice(
            &acked,
            "acknowledged",
            Notice::Acknowledged { by: who, at: now },
        )
        .await?;
        Ok(acked)
    }

    pub async fn resolve(&self, by: &Principal, id: &str) -> CoreResult<Incident> {
        let i = self.visible(by, id).await?;
        self.do_resolve(i, actor(by)).await
    }

    /// Resolves the unresolved incident of `org` with `dedup_key`, if any (Alertmanager
    /// `resolved` alerts, detectors recovering).
    pub async fn resolve_by_dedup(
        &self,
        org: &OrgId,
        dedup_key: &str,
        who: &str,
    ) -> CoreResult<Option<Incident>> {
        let open = self.engine.store.find_unresolved(org, dedup_key).await?;
        match open {
            Some(i) => Ok(Some(self.do_resolve(i, who.to_string()).await?)),
            None => Ok(None),
        }
    }

    async fn do_resolve(&self, i: Incident, who: String) -> CoreResult<Incident> {
        let now = self.clock.now_ms();
        let Some(resolved) = self.engine.store.resolve(&i.id, &who, now).await? else {
            return Err(CoreError::Conflict {
                code: ErrorCode::IncidentResolved,
                message: format!("Incident {} is already resolved.", i.id),
            });
        };
        self.engine
            .store
            .append(
                &i.id,
                &Entry::new(now, EntryKind::Resolved, "Resolved").actor(who.clone()),
            )
            .await?;
        self.cancel_steps(&resolved, None).await?;
        self.status_notice(&resolved, "resolved", Notice::Resolved { by: who, at: now })
            .await?;
        Ok(resolved)
    }

    /// Tells PagerDuty (when the severity notifies it) that the incident was acknowledged
    /// or resolved, as a delivery job of its own.
    async fn status_notice(&self, i: &Incident, what: &str, notice: Notice) -> CoreResult<()> {
        let row = self.engine.policy.severity(i.severity);
        if !row.notify.contains(&ChannelKind::PagerDuty)
            || !self
                .engine
                .policy
                .channels
                .is_configured(ChannelKind::PagerDuty)
        {
            return Ok(());
        }
        let args = NotifyArgs {
            incident_id: i.id.clone(),
            step: what.to_string(),
            channel: ChannelKind::PagerDuty,
            recipient: row.responder.clone(),
            notice,
            war_room: false,
        };
        let mut job =
            NewJob::of::<NotifyHandler>(i.org_id.clone(), &args).map_err(CoreError::internal)?;
        job.unique_key = Some(format!("incident:{}:{what}:pagerduty", i.id));
        self.jobs.enqueue(job).await?;
        Ok(())
    }

    /// Escalates now: the next pending page step (or, with none left, the commander step)
    /// runs at once.
    pub async fn escalate(&self, by: &Principal, id: &str) -> CoreResult<Incident> {
        let i = self.visible(by, id).await?;
        if i.status == Status::Resolved {
            return Err(CoreError::Conflict {
                code: ErrorCode::IncidentResolved,
                message: format!("Incident {} is resolved; it cannot be escalated.", i.id),
            });
        }
        let now = self.clock.now_ms();
        let state = self.engine.state(&i).await?;
        // Escalating an acknowledged incident walks the chain anyway: plan as if open.
        let open_state = IncidentState {
            acknowledged_at: None,
            ..state
        };
        let next = plan::remaining(&self.engine.policy, &open_state)
            .into_iter()
            .find(|s| !matches!(s.key, StepKey::Notify(_)));
        let Some(step) = next else {
            return Err(CoreError::Conflict {
                code: ErrorCode::NothingToEscalate,
                message: "Every escalation step of this incident has already been taken; configure more contacts in the policy's escalation_chain.".into(),
            });
        };
        self.engine
            .store
            .append(
                &i.id,
                &Entry::new(
                    now,
                    EntryKind::Note,
                    format!("Manual escalation: {}", step.key),
                )
                .actor(actor(by)),
            )
            .await?;
        run_step(
            &self.engine,
            &i,
            step,
            now,
            crate::store::StepGuard::WhileUnresolved,
        )
        .await?;
        Ok(i)
    }

    pub async fn note(&self, by: &Principal, id: &str, text: &str) -> CoreResult<Entry> {
        let i = self.visible(by, id).await?;
        let text = text.trim();
        if text.is_empty() {
            return Err(CoreError::invalid("text", "`text` must not be empty."));
        }
        let entry = Entry::new(self.clock.now_ms(), EntryKind::Note, text).actor(actor(by));
        self.engine.store.append(&i.id, &entry).await?;
        Ok(entry)
    }

    /// Changes the severity and re-plans: pending steps are cancelled and the new
    /// severity's remaining steps scheduled from now (steps already done stay done).
    pub async fn set_severity(
        &self,
        by: &Principal,
        id: &str,
        severity: Severity,
    ) -> CoreResult<Incident> {
        let i = self.visible(by, id).await?;
        if i.severity == severity {
            return Ok(i);
        }
        let now = self.clock.now_ms();
        let Some(changed) = self.engine.store.set_severity(&i.id, severity, now).await? else {
            return Err(CoreError::Conflict {
                code: ErrorCode::IncidentResolved,
                message: format!("Incident {} is resolved; its severity is final.", i.id),
            });
        };
        self.engine
            .store
            .append(
                &i.id,
                &Entry::new(
                    now,
                    EntryKind::SeverityChanged,
                    format!("Severity changed from {} to {severity}", i.severity),
                )
                .actor(actor(by)),
            )
            .await?;
        self.cancel_steps(&changed, None).await?;
        self.schedule(&changed).await?;
        Ok(changed)
    }

    pub async fn postmortem(&self, by: &Principal, id: &str) -> CoreResult<String> {
        let view = self.get(by, id).await?;
        let entries: Vec<_> = view.timeline.iter().map(Entry::postmortem).collect();
        Ok(postmortem::render(&view.incident.record(), &entries))
    }

    /// `POST /v1/alerts/alertmanager` [incidents:manage]: firing alerts open (or repeat)
    /// the incident keyed by their fingerprint; resolved alerts resolve it.
    pub async fn alertmanager(&self, by: &Principal, body: &[u8]) -> CoreResult<AlertOutcome> {
        by.require(Permission::IncidentsManage)?;
        let payload = crate::alertmanager::parse(body).map_err(|e| {
            CoreError::invalid(
                "body",
                format!("{e}. Send Alertmanager's webhook (version 4) unchanged."),
            )
        })?;
        // Alerts with different fingerprints are independent: handle up to
        // `ALERT_CONCURRENCY` keys at once, each key's signals in order.
        let mut by_key: Vec<(String, Vec<crate::alertmanager::Signal>)> = Vec::new();
        for signal in crate::alertmanager::signals(&payload, &self.engine.policy.alertmanager) {
            let key = match &signal {
                crate::alertmanager::Signal::Fire(a) => a.dedup_key.clone(),
                crate::alertmanager::Signal::Resolve { dedup_key, .. } => dedup_key.clone(),
            };
            match by_key.iter_mut().find(|(k, _)| *k == key) {
                Some((_, list)) => list.push(signal),
                None => by_key.push((key, vec![signal])),
            }
        }
        let org = &by.org_id;
        let results: Vec<CoreResult<Vec<(Effect, IncidentId)>>> =
            futures::stream::iter(by_key.into_iter().map(|(_, signals)| async move {
                let mut done = Vec::new();
                for signal in signals {
                    if let Some(d) = self.alert_signal(org, signal).await? {
                        done.push(d);
                    }
                }
                Ok(done)
            }))
            .buffered(ALERT_CONCURRENCY)
            .collect()
            .await;
        let mut out = AlertOutcome::default();
        for r in results {
            for (effect, id) in r? {
                match effect {
                    Effect::Opened => out.opened.push(id),
                    Effect::Repeated => out.repeated.push(id),
                    Effect::Resolved => out.resolved.push(id),
                }
            }
        }
        Ok(out)
    }

    async fn alert_signal(
        &self,
        org: &OrgId,
        signal: crate::alertmanager::Signal,
    ) -> CoreResult<Option<(Effect, IncidentId)>> {
        match signal {
            crate::alertmanager::Signal::Fire(a) => {
                let mut details = json!({"labels": a.labels});
                if let Some(u) = &a.generator_url {
                    details["generator_url"] = json!(u);
                }
                if !a.severity_mapped {
                    details["severity_label"] = json!(a.severity_label);
                }
                let opened = self
                    .open_for(
                        org,
                        Report {
                            title: a.title,
                            severity: a.severity,
                            source: Some("alertmanager".into()),
                            dedup_key: Some(a.dedup_key),
                            summary: Some(a.description),
                            details: Some(details),
                        },
                        Some("alertmanager".into()),
                    )
                    .await?;
                let effect = if opened.created {
                    Effect::Opened
                } else {
                    Effect::Repeated
                };
                Ok(Some((effect, opened.incident.id)))
            }
            crate::alertmanager::Signal::Resolve { dedup_key, .. } => Ok(self
                .resolve_by_dedup(org, &dedup_key, "alertmanager")
                .await?
                .map(|i| (Effect::Resolved, i.id))),
        }
    }

    /// The incident a verified link names (any organization's: the signature is the proof).
    async fn linked_incident(&self, id: &str) -> CoreResult<Incident> {
        let not_found = || CoreError::not_found("incident", id);
        let id = IncidentId::parse(id).map_err(|_| not_found())?;
        self.engine.store.get_any(&id).await?.ok_or_else(not_found)
    }

    /// The incident a signed link is for (GET shows it; nothing changes).
    pub async fn link_target(&self, token: &str) -> CoreResult<(Incident, LinkAction)> {
        let action = peek_action(token)?;
        let claims = self
            .engine
            .signer
            .verify(token, action, None, self.clock.now_ms())
            .map_err(rejection)?;
        let i = self.linked_incident(&claims.incident_id).await?;
        Ok((i, action))
    }

    /// Acts on a signed link (POST): verifies it, spends its nonce (single use), then
    /// acknowledges or resolves.
    pub async fn act_on_link(&self, token: &str) -> CoreResult<(Incident, LinkAction)> {
        let now = self.clock.now_ms();
        let action = peek_action(token)?;
        let claims = self
            .engine
            .signer
            .verify(token, action, None, now)
            .map_err(rejection)?;
        let i = self.linked_incident(&claims.incident_id).await?;
        if !self
            .engine
            .store
            .use_nonce(&claims.nonce, claims.expires_at, now)
            .await?
        {
            return Err(CoreError::Conflict {
                code: ErrorCode::LinkAlreadyUsed,
                message: "This link was already used; each acknowledge/resolve link works once. Open the incident to see its state.".into(),
            });
        }
        let who = "signed link".to_string();
        let done = match action {
            LinkAction::Acknowledge => self.do_acknowledge(i, who).await?,
            LinkAction::Resolve => self.do_resolve(i, who).await?,
        };
        Ok((done, action))
    }
}

/// The action a token claims, read before verification only to choose what to verify
/// against (the MAC check then covers it).
fn peek_action(token: &str) -> CoreResult<LinkAction> {
    use base64::Engine as _;
    let malformed = || {
        CoreError::Unauthenticated(AuthFailure::MalformedToken {
            reason: "not an incident action link".into(),
        })
    };
    let body = token.split('.').nth(1).ok_or_else(malformed)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(body)
        .map_err(|_| malformed())?;
    let v: Value = serde_json::from_slice(&json).map_err(|_| malformed())?;
    serde_json::from_value(v["action"].clone()).map_err(|_| malformed())
}

fn rejection(r: LinkRejection) -> CoreError {
    match r {
        LinkRejection::Expired { expired_at } => {
            CoreError::Unauthenticated(AuthFailure::TokenExpired {
                expired_at,
                now: expired_at,
            })
        }
        LinkRejection::Tampered => CoreError::Unauthenticated(AuthFailure::InvalidSignature),
        other => CoreError::Unauthenticated(AuthFailure::MalformedToken {
            reason: other.to_string(),
        }),
    }
}

/// Arguments of an `incidents.notify` job.
/// Arguments of an `incidents.step` job: one step of one incident's plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepArgs {
    pub incident_id: IncidentId,
    pub step: StepKey,
}

/// Arguments of an `incidents.notify` job: one delivery on one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyArgs {
    pub incident_id: IncidentId,
    pub step: String,
    pub channel: ChannelKind,
    pub recipient: String,
    pub notice: Notice,
    #[serde(default)]
    pub war_room: bool,
}

/// Carries out one step: the timeline entry and its delivery jobs, in one transaction.
/// Returns false when the step had already been recorded.
async fn run_step(
    engine: &Engine,
    i: &Incident,
    step: plan::Step,
    now: EpochMs,
    guard: crate::store::StepGuard,
) -> CoreResult<bool> {
    let policy = &engine.policy;
    let row = policy.severity(i.severity);
    let configured = |c: &ChannelKind| policy.channels.is_configured(*c);
    let severity_channels: Vec<ChannelKind> =
        row.notify.iter().copied().filter(configured).collect();
    let (kind, message, recipient, notice, channels, war_room): (
        EntryKind,
        String,
        String,
        Notice,
        Vec<ChannelKind>,
        bool,
    ) = match &step.action {
        Action::Notify { channel, responder } => (
            EntryKind::Notified,
            format!("Notify {responder} on {channel}"),
            responder.clone(),
            Notice::Opened,
            vec![*channel].into_iter().filter(configured).collect(),
            false,
        ),
        Action::Page { role, contact } => (
            EntryKind::Paged,
            format!("Page {role} ({contact})"),
            contact.clone(),
            Notice::Escalated {
                role: role.clone(),
                contact: contact.clone(),
            },
            severity_channels,
            false,
        ),
        Action::SummonCommander { commander } => match commander {
            Some(c) => (
                EntryKind::CommanderSummoned,
                format!("Summon incident commander {}", c.name),
                c.name.clone(),
                Notice::CommanderSummoned {
                    name: c.name.clone(),
                    contact: c.phone.clone().or(c.email.clone()),
                },
                severity_channels,
                false,
            ),
            None => (
                EntryKind::StepSkipped,
                "Summon incident commander: no incident_commander configured".into(),
                String::new(),
                Notice::StakeholderUpdate,
                Vec::new(),
                false,
            ),
        },
        Action::OpenWarRoom => (
            EntryKind::WarRoomOpened,
            "Open war room".into(),
            "war room".into(),
            Notice::Opened,
            vec![ChannelKind::Slack]
                .into_iter()
                .filter(configured)
                .collect(),
            true,
        ),
        Action::NotifyStakeholders { recipients } => (
            EntryKind::StakeholdersNotified,
            format!("Notify stakeholders ({})", recipients.join(", ")),
            recipients.join(", "),
            Notice::StakeholderUpdate,
            if configured(&ChannelKind::Email) {
                vec![ChannelKind::Email]
            } else {
                vec![ChannelKind::Slack]
                    .into_iter()
                    .filter(configured)
                    .collect()
            },
            false,
        ),
    };
    let step_text = step.key.to_string();
    let mut entry = Entry::new(now, kind, message);
    entry.step = Some(step_text.clone());
    entry.recipient = (!recipient.is_empty()).then(|| recipient.clone());
    entry.outcome = Some(if channels.is_empty() {
        "skipped: no configured channel".into()
    } else {
        format!(
            "queued on {}",
            channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
    let jobs = channels
        .iter()
        .map(|c| -> CoreResult<NewJob> {
            let args = NotifyArgs {
                incident_id: i.id.clone(),
                step: step_text.clone(),
                channel: *c,
                recipient: recipient.clone(),
                notice: notice.clone(),
                war_room,
            };
            let mut job = NewJob::of::<NotifyHandler>(i.org_id.clone(), &args)
                .map_err(CoreError::internal)?;
            job.max_attempts = NOTIFY_ATTEMPTS;
            job.unique_key = Some(format!(
                "{}:{}:deliver:{c}",
                i.org_id,
                plan::job_key(&i.id, step.key)
            ));
            Ok(job)
        })
        .collect::<CoreResult<Vec<NewJob>>>()?;
    Ok(engine
        .store
        .record_step(&i.id, &entry, &jobs, guard)
        .await?)
}

/// `incidents.step`: carries out one plan step when it is due, if it still applies.
pub struct StepHandler {
    engine: Arc<Engine>,
}

impl StepHandler {
    pub fn new(engine: Arc<Engine>) -> Self {
        StepHandler { engine }
    }
}

#[async_trait]
impl JobKind for StepHandler {
    const KIND: &'static str = STEP_KIND;
    type Args = StepArgs;

    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn max_attempts(&self) -> u32 {
        10
    }

    async fn run(&self, args: StepArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let key = args.step;
        let store_err = |e: conea_core::store::StoreError| JobError::retryable(e.to_string());
        let Some(i) = self
            .engine
            .store
            .get_any(&args.incident_id)
            .await
            .map_err(store_err)?
        else {
            return Ok(json!({"skipped": "incident not found"}));
        };
        let state = self
            .engine
            .state(&i)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        let Some(step) = plan::still_wanted(&self.engine.policy, &state, key) else {
            return Ok(json!({"skipped": "the step no longer applies"}));
        };
        let now = ctx.clock.now_ms();
        if step.due_at > now {
            // Re-planned later (severity change) while this job waited: its replacement runs.
            return Ok(json!({"skipped": "the step is due later"}));
        }
        let guard = crate::store::StepGuard::of(step.cancel_on);
        let done = run_step(&self.engine, &i, step, now, guard)
            .await
            .map_err(|e| JobError::retryable(e.to_string()))?;
        Ok(json!({"step": key.to_string(), "recorded": done}))
    }
}

/// `incidents.notify`: one delivery, retried by the job engine; every attempt is recorded.
pub struct NotifyHandler {
    engine: Arc<Engine>,
}

impl NotifyHandler {
    pub fn new(engine: Arc<Engine>) -> Self {
        NotifyHandler { engine }
    }
}

#[async_trait]
impl JobKind for NotifyHandler {
    const KIND: &'static str = NOTIFY_KIND;
    type Args = NotifyArgs;

    fn timeout(&self) -> Duration {
        Duration::from_secs(60)
    }

    fn max_attempts(&self) -> u32 {
        NOTIFY_ATTEMPTS
    }

    async fn run(&self, args: NotifyArgs, ctx: &JobContext) -> Result<Value, JobError> {
        let store_err = |e: conea_core::store::StoreError| JobError::retryable(e.to_string());
        let Some(i) = self
            .engine
            .store
            .get_any(&args.incident_id)
            .await
            .map_err(store_err)?
        else {
            return Ok(json!({"skipped": "incident not found"}));
        };
        let now = ctx.clock.now_ms();
        let open_notice = !matches!(
            args.notice,
            Notice::Acknowledged { .. } | Notice::Resolved { .. }
        );
        let message = self
            .engine
            .message(&i, now, open_notice && i.status != Status::Resolved);
        let unique = ctx
            .job
            .unique_key
            .clone()
            .unwrap_or_else(|| ctx.job.id.to_string());
        let d = Delivery {
            channel: args.channel,
            message: &message,
            notice: &args.notice,
            war_room: args.war_room,
            unique_key: &unique,
            now,
        };
        let result = self.engine.deliver.deliver(&self.engine.policy, &d).await;
        let mut entry = Entry::new(now, EntryKind::Notified, String::new());
        entry.channel = Some(args.channel);
        entry.recipient = Some(args.recipient.clone());
        let out = match &result {
            Ok(receipt) => {
                entry.message = format!("{} delivered ({})", args.step, receipt);
                entry.outcome = Some("delivered".into());
                Ok(json!({"delivered": receipt}))
            }
            Err(e) => {
                let last = !e.retryable || ctx.job.attempt >= ctx.job.max_attempts;
                entry.kind = EntryKind::StepSkipped;
                entry.message = format!(
                    "{} delivery attempt {}/{} failed",
                    args.step, ctx.job.attempt, ctx.job.max_attempts
                );
                entry.outcome = Some(if last {
                    format!("failed, giving up: {}", e.message)
                } else {
                    format!("failed, will retry: {}", e.message)
                });
                Err(if e.retryable {
                    JobError::retryable(e.message.clone())
                } else {
                    JobError::permanent(e.message.clone())
                })
            }
        };
        if let Err(e) = self.engine.store.append(&i.id, &entry).await {
            tracing::warn!(incident = %i.id, error = %e, "could not record a delivery on the timeline");
        }
        out
    }
}

/// The key of action links, derived from the server's secret key, so links survive restarts
/// and work on every replica.
pub fn link_signer(secret_key: &str) -> Result<LinkSigner, crate::signed_link::KeyTooShort> {
    let mut mac = crate::hmac_sha256(secret_key.as_bytes());
    hmac::Mac::update(&mut mac, b"conea.incident-links.v1");
    let key = hmac::Mac::finalize(mac).into_bytes();
    LinkSigner::new(&key)
}
