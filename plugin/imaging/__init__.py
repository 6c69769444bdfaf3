"""The image layer: fundus images from the EHR (ImagingStudy over DICOMweb, Media and
DocumentReference attachments) -> RGB arrays with laterality, date and source, or a typed
per-image error. HTTP lives here; the FHIR-side rules are pure, in fhir_mappers.imaging*."""
