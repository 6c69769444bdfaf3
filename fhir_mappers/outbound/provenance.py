"""A Provenance for every write: which model (Device) produced which resources, from which
inputs.

R4 Provenance has no identifier, so a retried write cannot find it by identifier. We make
it idempotent with a conditional create on `_tag`: meta.tag carries the write's key (a hash
of the business identifiers it records), and the transaction entry says
`ifNoneExist: _tag=<system>|<key>`. Chosen over a client-assigned id with PUT because many
EHR servers refuse client-assigned ids, and a PUT would add a new version on every retry.
"""

from __future__ import annotations

import uuid

from fhir_mappers import codes
from fhir_mappers.outbound.common import JSON, Built, coding, concept, instant
from fhir_mappers.outbound.identifiers import write_key
from fhir_mappers.outbound.inputs import ScreeningContext

MAX_ENTITIES = 100


def provenance(
    targets: list[Built], agents: list[str], sources: list[str], ctx: ScreeningContext
) -> Built:
    """`agents`: fullUrls of the model Devices; `sources`: references of the inputs (images,
    facts). The Provenance itself is not an AI assertion, so it carries no AIAST label; its
    reason says AI produced the targets (HL7 AI Transparency IG)."""
    key = write_key(t.identifier for t in targets if t.identifier)
    prov: JSON = {
        "resourceType": "Provenance",
        "meta": {"tag": [{"system": codes.DEEPDR_WRITE_KEY, "code": key}]},
        "target": [{"reference": t.full_url} for t in targets],
        "occurredDateTime": instant(ctx.issued, "issued"),
        "recorded": instant(ctx.issued, "issued"),
        "reason": [concept(codes.V3_OBSERVATION_VALUE, codes.AIAST)],
        "activity": concept(codes.DATA_OPERATION, codes.DATA_OPERATION_CREATE),
        "agent": [
            {
                "type": {
                    "coding": [coding(codes.PROVENANCE_PARTICIPANT_TYPE, codes.PROVENANCE_AUTHOR)]
                },
                "who": {"reference": url},
            }
            for url in agents
        ],
    }
    entities = list(dict.fromkeys(sources))[:MAX_ENTITIES]
    if entities:
        prov["entity"] = [{"role": "source", "what": {"reference": r}} for r in entities]
    name = f"{codes.DEEPDR_WRITE_KEY}|{key}"
    return Built("provenance", prov, f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}")


def if_none_exist(built: Built) -> str:
    tag = built.resource["meta"]["tag"][0]
    return f"_tag={tag['system']}|{tag['code']}"
