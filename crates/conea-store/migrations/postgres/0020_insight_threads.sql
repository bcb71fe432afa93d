-- Insights threads: conversations of questions in one organization. A message keeps its
-- whole answer (text, figures, tool calls, grounding, usage) as JSON, so a follow-up can
-- put the earlier figures back into the transcript and GET shows what each answer rests on.
CREATE TABLE insight_threads (
    id               TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX insight_threads_org ON insight_threads (organization_id, id);

CREATE TABLE insight_messages (
    id               TEXT PRIMARY KEY,
    thread_id        TEXT NOT NULL REFERENCES insight_threads (id) ON DELETE CASCADE,
    organization_id  TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);
CREATE INDEX insight_messages_thread ON insight_messages (thread_id, id);
