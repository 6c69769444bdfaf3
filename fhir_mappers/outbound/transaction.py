"""Assemble one write-back as a FHIR transaction Bundle.

Every entry is a conditional create (POST with ifNoneExist on its business identifier;
Provenance on its meta.tag key), so running the same write twice leaves one copy of each
resource: the server matches the existing ones and rewrites our urn:uuid references to
them. Every resource is validated before the Bundle is returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fhir_mappers.outbound import provenance as prov_mod
from fhir_mappers.outbound.careplan import advice_key, care_plan
from fhir_mappers.outbound.common import JSON, Built
from fhir_mappers.outbound.device import model_device
from fhir_mappers.outbound.errors import OutboundValidationError
from fhir_mappers.outbound.identifiers import digest, if_none_exist, screening_key
from fhir_mappers.outbound.inputs import WriteRequest, parse_input
from fhir_mappers.outbound.observations import check_grading, eye_observations
from fhir_mappers.outbound.referral import referral_key, service_request
from fhir_mappers.outbound.report import diagnostic_report
from fhir_mappers.outbound.validate import validate_resource


@dataclass(frozen=True)
class WriteBundle:
    """The transaction Bundle and, in the same order as its entries, what each entry is."""

    bundle: JSON
    entries: tuple[Built, ...]

    def index_of(self, name: str) -> int:
        for i, b in enumerate(self.entries):
            if b.name == name:
                return i
        raise KeyError(name)


def build_write_bundle(request: WriteRequest | Mapping[str, Any]) -> WriteBundle:
    req = parse_input(WriteRequest, request)
    ctx = req.context
    devices: list[Built] = []
    targets: list[Built] = []
    sources: list[str] = []
    reasons: list[str] = []
    basis = ""

    if req.grading is not None:
        grading = req.grading
        check_grading(grading)
        key = screening_key(ctx.patient_ref, grading)
        basis = key
        grader = model_device(grading.model, "fundus-grader")
        observations = [
            obs
            for eye in grading.eyes
            for obs in eye_observations(eye, ctx, key, grading.model, grader.full_url)
        ]
        report = diagnostic_report(grading, ctx, key, observations)
        devices.append(grader)
        targets += [*observations, report]
        reasons = [report.full_url] + [
            o.full_url
            for o in observations
            if o.name.endswith("/referable-dr") and _is_positive(o.resource)
        ]
        sources += list(dict.fromkeys(ctx.image_sources[i] for i in sorted(ctx.image_sources)))

    if req.advice is not None:
        engine = model_device(req.advice.engine, "advice-engine")
        if all(d.full_url != engine.full_url for d in devices):
            devices.append(engine)
        targets.append(care_plan(req.advice, ctx, advice_key(ctx, req.advice)))
        sources += [ref for item in req.advice.items for ref in item.source_refs]

    if req.referral is not None:
        referral = req.referral
        if req.grading is None:
            assert referral.suggested_by is not None  # WriteRequest guarantees it
            suggester = model_device(referral.suggested_by, "fundus-grader")
            if all(d.full_url != suggester.full_url for d in devices):
                devices.append(suggester)
            basis = digest([sorted(referral.reason_refs), referral.suggested_by.model_dump()])
        all_reasons = reasons + list(referral.reason_refs)
        targets.append(
            service_request(referral, ctx, referral_key(ctx, referral, basis), all_reasons)
        )

    provenance = prov_mod.provenance(targets, [d.full_url for d in devices], sources, ctx)
    entries = (*devices, *targets, provenance)
    for built in entries:
        validate_resource(built.resource, ai_generated=built.resource_type != "Device")
    bundle: JSON = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [_entry(b) for b in entries],
    }
    check_bundle_references(bundle)
    return WriteBundle(bundle, entries)


def _is_positive(obs: JSON) -> bool:
    interp = obs.get("interpretation", [{}])[0].get("coding", [{}])[0].get("code")
    return bool(interp == "POS")


def _entry(built: Built) -> JSON:
    if built.resource_type == "Provenance":
        condition = prov_mod.if_none_exist(built)
    else:
        ident = built.identifier
        assert ident is not None  # validate_resource checked every identifier
        condition = if_none_exist(ident)
    return {
        "fullUrl": built.full_url,
        "resource": built.resource,
        "request": {"method": "POST", "url": built.resource_type, "ifNoneExist": condition},
    }


def check_bundle_references(bundle: JSON) -> None:
    """Every urn:uuid reference must point at an entry of this Bundle, and fullUrls must be
    unique (a dangling urn would be stored verbatim by a lenient server)."""
    urls = [e["fullUrl"] for e in bundle.get("entry", [])]
    problems = []
    if len(set(urls)) != len(urls):
        problems.append("two entries share a fullUrl")
    known = set(urls)
    for entry in bundle.get("entry", []):
        for ref in _urn_references(entry["resource"]):
            if ref not in known:
                problems.append(
                    f"{entry['resource']['resourceType']} references {ref}, not in the Bundle"
                )
    if problems:
        raise OutboundValidationError("Bundle", problems)


def _urn_references(node: Any) -> list[str]:
    if isinstance(node, dict):
        out = []
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and v.startswith("urn:uuid:"):
                out.append(v)
            else:
                out += _urn_references(v)
        return out
    if isinstance(node, list):
        return [r for v in node for r in _urn_references(v)]
    return []
