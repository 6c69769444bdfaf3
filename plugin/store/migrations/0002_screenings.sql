-- DeepDR-FHIR store, schema 2: screening records (plugin/workflow), so the UI and the CDS
-- service find a patient's latest screening without touching the FHIR server or the grader.
-- One row per (FHIR server, patient, screening key); the key is a hash of the patient, the
-- input images' content hashes and the model versions, so re-running the same screening
-- updates its row (runs + 1) instead of adding one. JSON is kept as TEXT; patients appear
-- as FHIR references only (no names, no identifiers).
CREATE TABLE screenings (
    id TEXT PRIMARY KEY,
    fhir_base TEXT NOT NULL,
    patient_ref TEXT NOT NULL,
    screening_key TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('complete', 'partial', 'advice-only')),
    grader_model TEXT,
    grader_version TEXT,
    advice_engine TEXT,
    advice_version TEXT,
    image_hashes TEXT NOT NULL,
    written TEXT NOT NULL,
    problems TEXT NOT NULL,
    summary TEXT NOT NULL,
    grading TEXT,
    advice TEXT,
    timings TEXT NOT NULL,
    runs INTEGER NOT NULL DEFAULT 1,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    UNIQUE (fhir_base, patient_ref, screening_key)
);
CREATE INDEX screenings_by_patient ON screenings (fhir_base, patient_ref, updated_ms);
