"""A small SMART-on-FHIR EHR for tests and the demo: an authlib OAuth 2.0 authorization server
(authorization code + PKCE, EHR and standalone launch, consent, refresh, Backend Services) in
front of the real FHIR server, with a scope-checking FHIR proxy. Not for production."""

from plugin.local_servers.test_ehr.app import create_test_ehr_app
from plugin.local_servers.test_ehr.config import RegisteredClient, TestEhrSettings
from plugin.local_servers.test_ehr.server import LocalTestEhr

__all__ = ["LocalTestEhr", "RegisteredClient", "TestEhrSettings", "create_test_ehr_app"]
