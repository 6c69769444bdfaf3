"""Observability: health and readiness checks, Prometheus metrics, structured logs with
request ids and no PHI or tokens, and the audit of FHIR reads and writes."""
