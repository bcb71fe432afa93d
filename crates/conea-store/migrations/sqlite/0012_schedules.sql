-- Report schedules (issue 17): an analytics report run on a cron expression in an IANA
-- time zone and delivered to e-mail, Slack and webhook destinations. `next_slot_at` is the
-- next slot to fire; a tick moves it on in the same transaction as the slot's run job,
-- only from the value it read, so each slot fires once across replicas. JSON as text.
CREATE TABLE report_schedules (
    id                    TEXT PRIMARY KEY,
    organization_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    report                TEXT NOT NULL,
    params                TEXT NOT NULL,
    cron                  TEXT NOT NULL,
    timezone              TEXT NOT NULL,
    deliver               TEXT NOT NULL,
    enabled               BOOLEAN NOT NULL,
    webhook_secret        TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    next_slot_at          BIGINT,
    last_slot_at          BIGINT,
    skipped_slots         BIGINT NOT NULL DEFAULT 0,
    last_skipped_slot_at  BIGINT,
    last_run              TEXT
);
CREATE INDEX report_schedules_organization ON report_schedules (organization_id, id);
CREATE INDEX report_schedules_due ON report_schedules (next_slot_at) WHERE enabled;
