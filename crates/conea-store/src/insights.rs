//! `ThreadStore` on SQL (migration 0020): threads and their messages, each message's
//! question and answer kept whole as JSON text. Every read of a thread names its
//! organization, so another organization's thread id finds nothing.

use crate::query::q;
use crate::SqlStore;
use async_trait::async_trait;
use conea_core::ids::{OrgId, ThreadId};
use conea_core::store::{StoreError, StoreResult};
use conea_insights::threads::{Message, Thread, ThreadStore, ThreadSummary};

const SUBJECT: &str = "insight_thread";

#[derive(sqlx::FromRow)]
struct ThreadRow {
    id: String,
    organization_id: String,
    created_by: String,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    created_at: i64,
    first_body: Option<String>,
    messages: i64,
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    body: String,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("corrupt insight thread row: {what}"))
}

#[async_trait]
impl ThreadStore for SqlStore {
    async fn insert_thread(&self, t: &Thread) -> StoreResult<()> {
        q(
            "insert_insight_thread",
            "INSERT INTO insight_threads (id, organization_id, created_by, created_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(t.id.as_str())
        .bind(t.org_id.as_str())
        .bind(t.created_by.as_str())
        .bind(t.created_at)
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(())
    }

    async fn get_thread(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>> {
        let row = q(
            "get_insight_thread",
            "SELECT id, organization_id, created_by, created_at FROM insight_threads \
             WHERE id = $1 AND organization_id = $2",
        )
        .bind(id.as_str())
        .bind(org.as_str())
        .fetch_optional::<ThreadRow>(&self.primary(SUBJECT))
        .await?;
        row.map(|r| {
            Ok(Thread {
                id: ThreadId::parse(&r.id).map_err(|_| corrupt("id"))?,
                org_id: OrgId::parse(&r.organization_id).map_err(|_| corrupt("organization_id"))?,
                created_by: r.created_by,
                created_at: r.created_at,
            })
        })
        .transpose()
    }

    async fn append_message(&self, thread: &Thread, m: &Message) -> StoreResult<()> {
        let body = serde_json::to_string(m).map_err(|e| StoreError::Other(e.to_string()))?;
        q(
            "insert_insight_message",
            "INSERT INTO insight_messages (id, thread_id, organization_id, body, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(m.answer.id.as_str())
        .bind(thread.id.as_str())
        .bind(thread.org_id.as_str())
        .bind(body)
        .bind(m.created_at)
        .execute(&self.primary(SUBJECT))
        .await?;
        Ok(())
    }

    async fn thread_messages(&self, thread: &ThreadId) -> StoreResult<Vec<Message>> {
        let rows = q(
            "list_insight_messages",
            "SELECT body FROM insight_messages WHERE thread_id = $1 ORDER BY id",
        )
        .bind(thread.as_str())
        .fetch_all::<MessageRow>(&self.primary(SUBJECT))
        .await?;
        rows.into_iter()
            .map(|r| serde_json::from_str(&r.body).map_err(|_| corrupt("body")))
            .collect()
    }

    async fn list_threads(&self, org: &OrgId, limit: i64) -> StoreResult<Vec<ThreadSummary>> {
        let rows = q(
            "list_insight_threads",
            "SELECT t.id, t.created_at, \
             (SELECT m.body FROM insight_messages m WHERE m.thread_id = t.id ORDER BY m.id LIMIT 1) AS first_body, \
             (SELECT COUNT(*) FROM insight_messages m WHERE m.thread_id = t.id) AS messages \
             FROM insight_threads t WHERE t.organization_id = $1 ORDER BY t.id DESC LIMIT $2",
        )
        .bind(org.as_str())
        .bind(limit)
        .fetch_all::<SummaryRow>(&self.primary(SUBJECT))
        .await?;
        rows.into_iter()
            .map(|r| {
                let first_question = match r.first_body {
                    Some(b) => Some(
                        serde_json::from_str::<Message>(&b)
                            .map_err(|_| corrupt("body"))?
                            .question,
                    ),
                    None => None,
                };
                Ok(ThreadSummary {
                    id: r.id,
                    created_at: r.created_at,
                    first_question,
                    messages: r.messages,
                })
            })
            .collect()
    }
}
