"""Every code system URI and code we read or write, in one place.

Inbound code sets (labs, conditions, smoking) are owned by the inbound mappers; outbound
codes (what our DiagnosticReport/Observations/CarePlan carry) by the outbound mappers.
Each code was checked against its source (LOINC, SNOMED CT, HL7 terminology); the comment
beside a code says what it is.
"""

from __future__ import annotations

# --- Code systems -------------------------------------------------------------------------
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_CM = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
V3_OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
PROVENANCE_PARTICIPANT_TYPE = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
DATA_OPERATION = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
SIGNATURE_TYPE = "urn:iso-astm:E1762-95:2013"

# Our own identifier namespaces (business identifiers on everything we create).
DEEPDR_BASE = "https://deepdr-fhir.org/fhir"
DEEPDR_IDENTIFIER = f"{DEEPDR_BASE}/identifier"
DEEPDR_CODES = f"{DEEPDR_BASE}/CodeSystem/deepdr"
