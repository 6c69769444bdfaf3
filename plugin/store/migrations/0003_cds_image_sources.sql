-- DeepDR-FHIR store, schema 3: the CDS service's index from an image source's identity to
-- the content hashes of its images. Hashing needs the pixels, and fetching them is most of
-- the cost of a cold CDS Hooks call; with this index a call whose images were seen before
-- goes straight to the grading cache. source_key is a sha256 of the FHIR base URL, the
-- source reference and its version (meta.versionId, else the resource's own content), so an
-- updated Media or ImagingStudy gets a new key. images: JSON list of
-- {image_id, sha256, laterality, acquired}; failures: JSON list of {image_id, code, reason}
-- for images that can never be read as they are (corrupt, not an image). References and
-- hashes only: no patient data.
CREATE TABLE cds_image_sources (
    source_key TEXT PRIMARY KEY,
    source_ref TEXT NOT NULL,
    images TEXT NOT NULL,
    failures TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX cds_image_sources_by_created ON cds_image_sources (created_ms);
