//! Waking workers: in memory for this process, and with `LISTEN/NOTIFY` across processes on
//! PostgreSQL.

use super::CHANNEL;
use crate::{Db, SqlStore};
use std::time::Duration;

impl SqlStore {
    pub(crate) async fn notify_workers(&self) {
        self.jobs_wake.notify_waiters();
        if let Db::Postgres(p) = &self.db {
            if let Err(e) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(CHANNEL)
                .execute(p)
                .await
            {
                tracing::warn!(error = %e, "NOTIFY for new jobs failed; workers will poll");
            }
        }
    }

    pub(super) async fn wait_for_job_notice(&self, timeout: Duration) {
        match &self.db {
            Db::Sqlite(_) => {
                let _ = tokio::time::timeout(timeout, self.jobs_wake.notified()).await;
            }
            Db::Postgres(pool) => {
                let mut guard = match tokio::time::timeout(timeout, self.listener.lock()).await {
                    Ok(g) => g,
                    Err(_) => return,
                };
                if guard.is_none() {
                    match sqlx::postgres::PgListener::connect_with(pool).await {
                        Ok(mut l) => match l.listen(CHANNEL).await {
                            Ok(()) => *guard = Some(l),
                            Err(e) => tracing::warn!(error = %e, "LISTEN failed; polling for jobs"),
                        },
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot open the LISTEN connection; polling for jobs")
                        }
                    }
                }
                match guard.as_mut() {
                    Some(l) => {
                        if let Ok(Err(e)) = tokio::time::timeout(timeout, l.recv()).await {
                            tracing::warn!(error = %e, "LISTEN connection failed; reconnecting");
                            *guard = None;
                        }
                    }
                    None => tokio::time::sleep(timeout).await,
                }
            }
        }
    }
}
