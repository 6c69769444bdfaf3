"""ServiceRequest for the referral; Provenance for the write."""

from __future__ import annotations

from fhir_mappers.outbound.common import Built
from fhir_mappers.outbound.provenance import if_none_exist, provenance
from fhir_mappers.outbound.referral import referral_key, service_request


def test_service_request(referral, context) -> None:
    req = service_request(referral, context, "k", ["urn:uuid:dr", "DiagnosticReport/7"]).resource
    assert (req["status"], req["intent"], req["priority"]) == ("draft", "proposal", "urgent")
    assert req["code"]["coding"][0]["code"] == "3457005"
    assert req["code"]["text"] == "Referral to ophthalmology"
    assert req["performerType"]["coding"][0]["code"] == "394594003"
    assert req["reasonReference"] == [
        {"reference": "urn:uuid:dr"},
        {"reference": "DiagnosticReport/7"},
    ]
    assert req["reasonCode"] == [{"text": referral.reason}]
    assert req["bodySite"][0]["coding"][0]["code"] == "18944008"
    assert req["authoredOn"] == "2024-05-01T09:05:00+00:00"
    assert "requester" not in req  # nobody has requested it yet: a proposal


def test_referral_key_depends_on_basis_and_priority(referral, context) -> None:
    key = referral_key(context, referral, "basis")
    assert key == referral_key(context, referral, "basis")
    assert key != referral_key(context, referral, "other basis")
    routine = referral.model_copy(update={"priority": "routine"})
    assert key != referral_key(context, routine, "basis")


def _target(name: str, value: str) -> Built:
    resource = {"resourceType": "Observation", "identifier": [{"system": "s", "value": value}]}
    return Built(name, resource, f"urn:uuid:{value}")


def test_provenance_targets_agents_and_sources(context) -> None:
    targets = [_target("a", "1"), _target("b", "2")]
    prov = provenance(targets, ["urn:uuid:dev"], ["Media/m", "Media/m", "Observation/o"], context)
    res = prov.resource
    assert res["target"] == [{"reference": "urn:uuid:1"}, {"reference": "urn:uuid:2"}]
    assert res["agent"][0]["who"] == {"reference": "urn:uuid:dev"}
    assert res["agent"][0]["type"]["coding"][0]["code"] == "author"
    assert [e["what"]["reference"] for e in res["entity"]] == ["Media/m", "Observation/o"]
    assert all(e["role"] == "source" for e in res["entity"])
    assert res["reason"][0]["coding"][0]["code"] == "AIAST"
    assert res["activity"]["coding"][0]["code"] == "CREATE"
    assert if_none_exist(prov).startswith("_tag=https://deepdr-fhir.org/fhir/CodeSystem/write-key|")


def test_provenance_key_is_the_set_of_targets(context) -> None:
    a, b = _target("a", "1"), _target("b", "2")
    one = provenance([a, b], ["urn:uuid:d"], [], context)
    same = provenance(
        [b, a], ["urn:uuid:d"], [], context.model_copy(update={"issued": context.effective})
    )
    other = provenance([a], ["urn:uuid:d"], [], context)
    assert one.resource["meta"]["tag"] == same.resource["meta"]["tag"]
    assert one.full_url == same.full_url
    assert one.resource["meta"]["tag"] != other.resource["meta"]["tag"]
    assert "entity" not in one.resource
