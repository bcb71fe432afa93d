-- AI gateway token usage, aggregated per (organization, API key, provider, model, day),
-- and monthly token budgets per organization.
CREATE TABLE ai_usage (
    organization_id  TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    api_key_id       TEXT NOT NULL DEFAULT '',
    provider         TEXT NOT NULL,
    model            TEXT NOT NULL,
    day              TEXT NOT NULL,
    day_start        BIGINT NOT NULL,
    requests         BIGINT NOT NULL,
    input_tokens     BIGINT NOT NULL,
    output_tokens    BIGINT NOT NULL,
    PRIMARY KEY (organization_id, day, api_key_id, provider, model)
);

CREATE TABLE ai_budgets (
    organization_id  TEXT PRIMARY KEY REFERENCES organizations(id) ON DELETE CASCADE,
    monthly_tokens   BIGINT,
    updated_at       BIGINT NOT NULL
);
