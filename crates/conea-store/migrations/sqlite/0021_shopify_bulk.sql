-- Syncs by GraphQL bulk operation: the operation a resource's pass is waiting for or
-- reading (`gid://shopify/BulkOperation/N`; NULL when the pass reads pages), and how many
-- lines of its JSONL result are committed (a pass that dies mid-file resumes after them).
ALTER TABLE shopify_sync_state ADD COLUMN bulk_operation TEXT;
ALTER TABLE shopify_sync_state ADD COLUMN bulk_lines BIGINT NOT NULL DEFAULT 0;
