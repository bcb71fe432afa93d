-- A schedule's language (`en` or `ja`): the digest report writes its narrative and notes in
-- it. Existing schedules are English.
ALTER TABLE report_schedules ADD COLUMN language TEXT NOT NULL DEFAULT 'en';
