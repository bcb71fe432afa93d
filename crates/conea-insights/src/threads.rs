//! Threads: a conversation of questions in one organization. Each follow-up is answered
//! after the thread's earlier exchanges (questions, the figures their answers rest on, and
//! the answers), so "and the week before?" means something. Threads and their messages
//! are stored ([`ThreadStore`], migration 0020); a thread of another organization is not
//! found.

use crate::ask::{Answer, Events, Exchange, InsightsService, Prepared, Question};
use async_trait::async_trait;
use conea_core::clock::{Clock, EpochMs};
use conea_core::error::{CoreError, CoreResult};
use conea_core::ids::{OrgId, ThreadId};
use conea_core::permissions::Permission;
use conea_core::principal::Principal;
use conea_core::store::StoreResult;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Messages one thread may hold; past it, start a new thread.
pub const MAX_THREAD_MESSAGES: usize = 50;

/// A thread as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    pub id: ThreadId,
    pub org_id: OrgId,
    /// Who created it (`usr_…` or `key_…`).
    pub created_by: String,
    pub created_at: EpochMs,
}

/// One question of a thread and its answer, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub question: String,
    pub shop_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub created_at: EpochMs,
    pub answer: Answer,
}

#[async_trait]
pub trait ThreadStore: Send + Sync + 'static {
    async fn insert_thread(&self, t: &Thread) -> StoreResult<()>;
    /// The thread when it belongs to `org`.
    async fn get_thread(&self, org: &OrgId, id: &ThreadId) -> StoreResult<Option<Thread>>;
    async fn append_message(&self, thread: &Thread, m: &Message) -> StoreResult<()>;
    /// The thread's messages, oldest first.
    async fn thread_messages(&self, thread: &ThreadId) -> StoreResult<Vec<Message>>;
    /// The organization's newest threads (at most `limit`), newest first.
    async fn list_threads(&self, org: &OrgId, limit: i64) -> StoreResult<Vec<ThreadSummary>>;
}

/// A thread in a list: its first question and how many messages it holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadSummary {
    pub id: String,
    pub created_at: EpochMs,
    pub first_question: Option<String>,
    pub messages: i64,
}

/// A thread with its messages (the body of the thread routes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadView {
    pub id: String,
    pub created_at: String,
    pub messages: Vec<MessageView>,
}

/// A message as shown: the question, then the answer's fields (`id`, `answer`, `figures`,
/// `tool_calls`, `grounding`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageView {
    pub question: String,
    pub created_at: String,
    #[serde(flatten)]
    pub answer: Answer,
}

impl MessageView {
    fn of(m: Message) -> MessageView {
        MessageView {
            question: m.question,
            created_at: conea_core::clock::rfc3339(m.created_at),
            answer: m.answer,
        }
    }
}

pub struct ThreadService {
    insights: Arc<InsightsService>,
    store: Arc<dyn ThreadStore>,
    clock: Arc<dyn Clock>,
}

fn require(by: &Principal) -> CoreResult<()> {
    by.require(Permission::AiUse)?;
    by.require(Permission::DataRead)
}

impl ThreadService {
    pub fn new(
        insights: Arc<InsightsService>,
        store: Arc<dyn ThreadStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ThreadService {
            insights,
            store,
            clock,
        }
    }

    pub fn insights(&self) -> &Arc<InsightsService> {
        &self.insights
    }

    /// Creates a thread [ai:use, data:read]; with a first question, answers it too (the
    /// question is checked before the thread is stored, so a bad one stores nothing).
    pub async fn create(
        &self,
        by: &Principal,
        first: Option<&Question>,
        events: Option<&Events>,
    ) -> CoreResult<ThreadView> {
        require(by)?;
        let prepared = match first {
            Some(q) => Some(self.insights.prepare(by, q).await?),
            None => None,
        };
        let thread = Thread {
            id: ThreadId::generate(),
            org_id: by.org_id.clone(),
            created_by: by.subject.clone(),
            created_at: self.clock.now_ms(),
        };
        self.store.insert_thread(&thread).await?;
        let mut messages = Vec::new();
        if let (Some(q), Some(p)) = (first, prepared) {
            messages.push(self.answer(by, &thread, q, &p, &[], events).await?);
        }
        Ok(ThreadView {
            id: thread.id.to_string(),
            created_at: conea_core::clock::rfc3339(thread.created_at),
            messages: messages.into_iter().map(MessageView::of).collect(),
        })
    }

    /// The caller's thread, or not found (another organization's thread included).
    async fn thread(&self, by: &Principal, id: &str) -> CoreResult<Thread> {
        let not_found = || CoreError::not_found("thread", id);
        let id = ThreadId::parse(id).map_err(|_| not_found())?;
        self.store
            .get_thread(&by.org_id, &id)
            .await?
            .ok_or_else(not_found)
    }

    /// Checks a follow-up before it runs: the thread (404), the question (400), the
    /// thread's length (409 past [`MAX_THREAD_MESSAGES`]).
    pub async fn prepare_follow_up(
        &self,
        by: &Principal,
        id: &str,
        q: &Question,
    ) -> CoreResult<(Thread, Prepared, Vec<Message>)> {
        require(by)?;
        let thread = self.thread(by, id).await?;
        let prepared = self.insights.prepare(by, q).await?;
        let history = self.store.thread_messages(&thread.id).await?;
        if history.len() >= MAX_THREAD_MESSAGES {
            return Err(CoreError::Conflict {
                code: conea_core::ErrorCode::ThreadFull,
                message: format!(
                    "Thread {id} already holds {MAX_THREAD_MESSAGES} messages; start a new thread (POST /v1/insights/threads)."
                ),
            });
        }
        Ok((thread, prepared, history))
    }

    /// A follow-up question, answered after the thread's history and stored with it.
    pub async fn follow_up(
        &self,
        by: &Principal,
        id: &str,
        q: &Question,
        events: Option<&Events>,
    ) -> CoreResult<MessageView> {
        let (thread, prepared, history) = self.prepare_follow_up(by, id, q).await?;
        self.run_follow_up(by, &thread, q, &prepared, &history, events)
            .await
    }

    /// The second half of [`ThreadService::follow_up`] (a stream prepares first).
    pub async fn run_follow_up(
        &self,
        by: &Principal,
        thread: &Thread,
        q: &Question,
        prepared: &Prepared,
        history: &[Message],
        events: Option<&Events>,
    ) -> CoreResult<MessageView> {
        let m = self
            .answer(by, thread, q, prepared, history, events)
            .await?;
        Ok(MessageView::of(m))
    }

    async fn answer(
        &self,
        by: &Principal,
        thread: &Thread,
        q: &Question,
        prepared: &Prepared,
        history: &[Message],
        events: Option<&Events>,
    ) -> CoreResult<Message> {
        let exchanges: Vec<Exchange> = history
            .iter()
            .map(|m| Exchange {
                question: m.question.clone(),
                answer: m.answer.answer.clone(),
                figures: m.answer.figures.clone(),
            })
            .collect();
        let answer = self
            .insights
            .answer(by, prepared, &exchanges, events)
            .await?;
        let m = Message {
            question: prepared.question.clone(),
            shop_id: prepared.scope.shop_id.clone(),
            from: q.from.clone(),
            to: q.to.clone(),
            created_at: self.clock.now_ms(),
            answer,
        };
        self.store.append_message(thread, &m).await?;
        Ok(m)
    }

    /// The organization's newest threads [ai:use, data:read], newest first.
    pub async fn list(&self, by: &Principal, limit: i64) -> CoreResult<Vec<ThreadSummary>> {
        require(by)?;
        Ok(self
            .store
            .list_threads(&by.org_id, limit.clamp(1, 100))
            .await?)
    }

    /// A thread with its messages [ai:use, data:read].
    pub async fn get(&self, by: &Principal, id: &str) -> CoreResult<ThreadView> {
        require(by)?;
        let thread = self.thread(by, id).await?;
        let messages = self.store.thread_messages(&thread.id).await?;
        Ok(ThreadView {
            id: thread.id.to_string(),
            created_at: conea_core::clock::rfc3339(thread.created_at),
            messages: messages.into_iter().map(MessageView::of).collect(),
        })
    }
}
