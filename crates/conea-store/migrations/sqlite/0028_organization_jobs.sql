-- Which organization each job belongs to, in a table of its own (as on PostgreSQL, where
-- an index on `jobs` takes a new entry at every claim and completion; ownership never
-- changes, so it is written once, when the job is inserted, and removed with the job).
-- The job listing reads this table on both backends.
CREATE TABLE organization_jobs (
    organization_id  TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    PRIMARY KEY (organization_id, job_id)
) WITHOUT ROWID;
INSERT INTO organization_jobs (organization_id, job_id) SELECT organization_id, id FROM jobs;

CREATE TRIGGER jobs_owner_add AFTER INSERT ON jobs
BEGIN
    INSERT INTO organization_jobs (organization_id, job_id) VALUES (NEW.organization_id, NEW.id);
END;
CREATE TRIGGER jobs_owner_remove AFTER DELETE ON jobs
BEGIN
    DELETE FROM organization_jobs WHERE organization_id = OLD.organization_id AND job_id = OLD.id;
END;

DROP INDEX jobs_organization;
