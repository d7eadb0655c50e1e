-- Per-member counters the multi-tenant dashboard shows, kept current at ingest.
ALTER TABLE memberships
    ADD COLUMN run_events    integer NOT NULL DEFAULT 0,
    ADD COLUMN report_events integer NOT NULL DEFAULT 0;
