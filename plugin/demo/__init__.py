"""The end-to-end demo: synthetic diabetic patients (with real, labelled fundus photographs
read from the shared data) loaded into a real FHIR server and read back as ClinicalFacts."""
