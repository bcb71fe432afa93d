-- One row per upload that is complete: written when the upload is sealed (just before its
-- `data.import` job is enqueued) and then after each batch the import commits, holding the
-- import's checkpoint (JSON: records done, counts, bad lines so far), so a crashed import
-- resumes after its last committed batch. Chunks of an upload without a row here are an
-- upload still being received, or an orphan once its newest chunk is an hour old (the
-- request died): housekeeping deletes those.
CREATE TABLE import_checkpoints (
    upload_id        TEXT PRIMARY KEY,
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    checkpoint       TEXT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX import_checkpoints_updated ON import_checkpoints (updated_at);
