//! Schedules installed into a platform: the sender (the escalation policy's SMTP server and
//! sender for e-mail, when it has an email channel), the `schedules.run` job kind and the
//! service.

use crate::deliver::{EmailSetup, Sender};
use crate::job::RunJob;
use crate::service::SchedulesService;
use crate::store::ScheduleStore;
use conea_core::config::Config;
use conea_core::secretbox::SecretBox;
use conea_core::Clock;
use conea_incidents::Policy;
use conea_insights::digest::DigestService;
use conea_jobs::service::JobService;
use conea_jobs::{JobHandler, JobKinds, Typed};
use conea_shopdata::analytics::AnalyticsStore;
use std::sync::Arc;
use std::time::Duration;

/// How long one delivery may take.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

pub struct SchedulesModule {
    store: Arc<dyn ScheduleStore>,
    analytics: Arc<dyn AnalyticsStore>,
    sender: Arc<Sender>,
    secrets: SecretBox,
    digests: Arc<DigestService>,
}

impl SchedulesModule {
    pub fn new(
        config: &Config,
        policy: &Policy,
        store: Arc<dyn ScheduleStore>,
        analytics: Arc<dyn AnalyticsStore>,
        digests: Arc<DigestService>,
    ) -> Result<Self, String> {
        let secrets = SecretBox::new(
            config
                .secret_key
                .as_deref()
                .ok_or_else(|| "CONEA_SECRET_KEY is not set".to_string())?,
        );
        let email = policy.channels.email.as_ref().map(|e| EmailSetup {
            smtp: e.smtp.clone(),
            from: e.from.clone(),
        });
        let sender = Sender::new(DELIVERY_TIMEOUT, email)
            .map_err(|e| format!("schedule delivery HTTP client: {e}"))?;
        Ok(SchedulesModule {
            store,
            analytics,
            sender: Arc::new(sender),
            secrets,
            digests,
        })
    }

    pub fn service(&self, jobs: Arc<JobService>, clock: Arc<dyn Clock>) -> Arc<SchedulesService> {
        Arc::new(SchedulesService::new(
            self.store.clone(),
            jobs,
            clock,
            self.secrets.clone(),
            self.sender.email_configured(),
        ))
    }
}

impl JobKinds for SchedulesModule {
    fn job_kinds(&self) -> Vec<Arc<dyn JobHandler>> {
        vec![Typed::handler(RunJob::new(
            self.store.clone(),
            self.analytics.clone(),
            self.sender.clone(),
            self.secrets.clone(),
            self.digests.clone(),
        ))]
    }
}
