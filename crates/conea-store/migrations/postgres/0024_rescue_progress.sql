-- Rescue without cost after progress: the job's progress when its current attempt started.
-- A job whose worker died (lease expired) after it advanced its progress past this mark is
-- put back without counting the attempt (an import resumes after its last committed batch,
-- so the crash lost little); a job that died without progress still counts it, so a job that
-- crashes its worker at the same point every time still ends `discarded`.
ALTER TABLE jobs ADD COLUMN progress_at_start INTEGER NOT NULL DEFAULT 0;
