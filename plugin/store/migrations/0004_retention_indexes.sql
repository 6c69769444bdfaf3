-- DeepDR-FHIR store, schema 4: indexes on the times retention purges by
-- (`deepdr-fhir store purge`, store.retention), so a purge or its dry-run count reads the
-- old rows through an index instead of scanning the table under the write lock. The other
-- purged tables were created with theirs (audit_log, signoff_pairs, jwt_replay,
-- smart_sessions, cds_image_sources).
CREATE INDEX grading_cache_by_created ON grading_cache (created_ms);
CREATE INDEX jobs_by_finished ON jobs (finished_ms);
CREATE INDEX cds_feedback_by_received ON cds_feedback (received_ms);
CREATE INDEX screenings_by_updated ON screenings (updated_ms);
