-- DeepDR-FHIR store, schema 1. Common SQL subset of SQLite and PostgreSQL: TEXT, INTEGER,
-- BIGINT (epoch milliseconds, columns named *_ms), JSON kept as TEXT, ids are UUID text
-- made by the application. Each statement ends with `;` at a line end (see migrate.py).

-- Grader results reused across requests: same image bytes + same model version -> same result.
CREATE TABLE grading_cache (
    image_sha256 TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version TEXT NOT NULL,
    result TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (image_sha256, model_name, model_version)
);

-- Background jobs: a persistent queue (plugin/jobs). lease_token changes on every claim,
-- so only the current runner of a job can report progress, results or failures.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    payload_sha256 TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    run_after_ms BIGINT NOT NULL,
    lease_owner TEXT,
    lease_token TEXT,
    lease_expires_ms BIGINT,
    progress INTEGER NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    progress_message TEXT NOT NULL DEFAULT '',
    result TEXT,
    error TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX jobs_by_status_due ON jobs (status, run_after_ms);
CREATE INDEX jobs_by_status_lease ON jobs (status, lease_expires_ms);

-- One row per run of a job: who ran it and how it ended ('running', 'succeeded',
-- 'failed', 'retry', 'lost' when the worker died and its lease expired).
CREATE TABLE job_attempts (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    worker TEXT NOT NULL,
    started_ms BIGINT NOT NULL,
    ended_ms BIGINT,
    outcome TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (job_id, attempt)
);

-- CDS Hooks feedback items; a resent item (same card, outcome, outcomeTimestamp) is stored once.
CREATE TABLE cds_feedback (
    service_id TEXT NOT NULL,
    card_uuid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    outcome_timestamp TEXT NOT NULL,
    item TEXT NOT NULL,
    issuer TEXT,
    received_ms BIGINT NOT NULL,
    PRIMARY KEY (service_id, card_uuid, outcome, outcome_timestamp)
);
CREATE INDEX cds_feedback_by_card ON cds_feedback (card_uuid);

-- Advice drafts and what the clinician signed: material for evaluation and fine-tuning.
CREATE TABLE signoff_pairs (
    pair_id TEXT PRIMARY KEY,
    lang TEXT NOT NULL,
    engine TEXT NOT NULL,
    model TEXT NOT NULL,
    draft TEXT NOT NULL,
    signed TEXT NOT NULL,
    facts TEXT,
    patient_ref_hash TEXT,
    created_ms BIGINT NOT NULL
);
CREATE INDEX signoff_pairs_by_created ON signoff_pairs (created_ms);

-- JWT ids already seen (CDS Hooks client JWTs, SMART private_key_jwt assertions).
CREATE TABLE jwt_replay (
    iss TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    PRIMARY KEY (iss, jti)
);
CREATE INDEX jwt_replay_by_expiry ON jwt_replay (expires_ms);

-- Who did what to which resources. References only, never names or free text about patients.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    resource_refs TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX audit_log_by_time ON audit_log (at_ms);

-- SMART sessions shared by stateless web workers: state sealed by smart_launch (AES-GCM),
-- keyed by a hash of the session id so a copy of the database holds no usable cookie.
CREATE TABLE smart_sessions (
    id_hash TEXT PRIMARY KEY,
    sealed TEXT NOT NULL,
    expires_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX smart_sessions_by_expiry ON smart_sessions (expires_ms);
