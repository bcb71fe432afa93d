//! Incidents installed into a platform: the escalation policy loaded and checked (a bad file
//! fails start-up, naming the key), the engine over the store, its job kinds
//! (`incidents.step`, `incidents.notify`) and its service.

use crate::delivery::HttpDeliver;
use crate::engine::{
    link_signer, Engine, IncidentService, NotifyHandler, PolicySource, StepHandler,
};
use crate::store::IncidentStore;
use crate::{ChannelKind, Policy};
use conea_core::config::Config;
use conea_core::Clock;
use conea_jobs::service::JobService;
use conea_jobs::{JobHandler, JobKinds, Typed};
use std::sync::Arc;
use std::time::Duration;

/// How long one notification may take (Slack, PagerDuty, Jira, webhooks).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The incident feature, as the platform wires it.
pub struct IncidentsModule {
    engine: Arc<Engine>,
}

impl IncidentsModule {
    /// Loads the escalation policy (`CONEA_ESCALATION_CONFIG`, or the default) and builds
    /// the engine; the error names the setting.
    pub fn new(config: &Config, store: Arc<dyn IncidentStore>) -> Result<Self, String> {
        let path = config.incidents.escalation_config.as_deref();
        let policy = Policy::load(path)
            .map_err(|e| format!("CONEA_ESCALATION_CONFIG: {}", e.to_string().trim_end()))?;
        // With no channel at all, each severity's "channel not configured" says one thing:
        // nobody is notified. `conea serve` prints that once (see `notifies_nobody`) and
        // `/health` reports it; the per-entry warnings are for policies with some channels.
        if !notifies_nobody(&policy) {
            for w in policy.warnings() {
                tracing::warn!(key = %w.path, "escalation policy: {}", w.message);
            }
        }
        let secret = config.secret_key.clone().unwrap_or_default();
        let signer = link_signer(&secret).map_err(|e| format!("incident links: {e}"))?;
        let deliver =
            HttpDeliver::new(DELIVERY_TIMEOUT).map_err(|e| format!("incident HTTP client: {e}"))?;
        Ok(IncidentsModule {
            engine: Arc::new(Engine {
                store,
                policy: Arc::new(policy),
                source: match path {
                    Some(p) => PolicySource::File(p.display().to_string()),
                    None => PolicySource::Default,
                },
                signer,
                public_url: config.incidents.public_url.clone(),
                deliver: Arc::new(deliver),
            }),
        })
    }

    /// The escalation policy (report schedules send e-mail with its SMTP server and sender).
    pub fn policy(&self) -> &Policy {
        &self.engine.policy
    }

    /// The service the routes, the detectors and the CLI call.
    pub fn service(&self, jobs: Arc<JobService>, clock: Arc<dyn Clock>) -> Arc<IncidentService> {
        Arc::new(IncidentService::new(self.engine.clone(), jobs, clock))
    }
}

/// Whether the policy has no notification channel configured: incidents are recorded and
/// shown, but nobody is told.
pub fn notifies_nobody(policy: &Policy) -> bool {
    !ChannelKind::ALL
        .into_iter()
        .any(|c| policy.channels.is_configured(c))
}

impl JobKinds for IncidentsModule {
    fn job_kinds(&self) -> Vec<Arc<dyn JobHandler>> {
        vec![
            Typed::handler(StepHandler::new(self.engine.clone())),
            Typed::handler(NotifyHandler::new(self.engine.clone())),
        ]
    }
}
