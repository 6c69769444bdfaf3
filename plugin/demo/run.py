"""The demo, end to end: start the bundled FHIR server, load the demo patients over HTTP
(one transaction each, through the FHIR gateway), search each patient's record back the way
the app will read an EHR (searches with patient=Patient/ID; $everything is not assumed),
map it to ClinicalFacts and print them. The server is stopped whatever happens."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir_mappers.inbound import clinical_facts_from_fhir
from models.clinical_facts import ClinicalFacts
from plugin.cli.facts_cmd import render_facts
from plugin.demo.generate import DemoPatient, generate_demo
from plugin.demo.photos import ATTRIBUTION, DATA_DIR_ENV, PhotoLibrary, data_dir
from plugin.fhir import FhirGateway, HttpFhirGateway
from plugin.local_servers.fhir_server import LocalFhirServer

# What the app reads of a patient's record (one search each, all pages).
RECORD_TYPES: tuple[str, ...] = (
    "Condition",
    "Observation",
    "MedicationRequest",
    "MedicationStatement",
    "ImagingStudy",
    "Media",
    "DocumentReference",
)
JSON = dict[str, Any]


@dataclass(frozen=True)
class DemoResult:
    demo: DemoPatient
    patient_id: str
    facts: ClinicalFacts


def load_patient(gateway: FhirGateway, demo: DemoPatient) -> str:
    """POST the patient's transaction; the server-assigned Patient id."""
    result = gateway.transaction(demo.bundle)
    for sent, got in zip(demo.bundle["entry"], result.entries, strict=True):
        if sent["resource"]["resourceType"] == "Patient" and got.id:
            return got.id
    raise RuntimeError("the transaction response names no Patient")


def read_record(gateway: FhirGateway, patient_id: str) -> list[JSON]:
    """The Patient, every resource of RECORD_TYPES that refers to it, and the Medications
    its requests/statements reference."""
    resources: list[JSON] = [gateway.read("Patient", patient_id)]
    params = [("patient", f"Patient/{patient_id}"), ("_count", "50")]
    for rtype in RECORD_TYPES:
        resources += gateway.search(rtype, params, max_pages=20).resources
    wanted = {
        ref.split("/", 1)[1]
        for r in resources
        if isinstance(ref := (r.get("medicationReference") or {}).get("reference"), str)
        and ref.startswith("Medication/")
    }
    for med_id in sorted(wanted):
        resources.append(gateway.read("Medication", med_id))
    return resources


def _load_and_read(gateway: FhirGateway, demo: DemoPatient, as_of: date) -> DemoResult:
    pid = load_patient(gateway, demo)
    record = read_record(gateway, pid)
    return DemoResult(demo, pid, clinical_facts_from_fhir(record, as_of=as_of, patient_id=pid))


def run_demo(
    *,
    seed: int,
    as_of: date,
    json_output: bool = False,
    out: Callable[[str], None] = print,
    library: PhotoLibrary | None = None,
    base_url: str | None = None,
) -> list[DemoResult]:
    """`base_url`: load into that (test) server instead of starting the bundled one."""
    patients = generate_demo(seed=seed, as_of=as_of, library=library)
    with ExitStack() as stack:
        if base_url is None:
            base_url = stack.enter_context(LocalFhirServer()).base_url
            if not json_output:
                out(f"FHIR server (Medplum in-memory router) at {base_url}")
        gw = stack.enter_context(HttpFhirGateway(base_url, timeout_s=60))
        results = [_load_and_read(gw, demo, as_of) for demo in patients]
    if json_output:
        out(json.dumps([_as_json(r) for r in results], ensure_ascii=False, indent=2))
    else:
        for i, r in enumerate(results, 1):
            out(_as_text(i, len(results), r))
        out(_footer(library, results))
    return results


def _as_text(i: int, n: int, r: DemoResult) -> str:
    head = f"\n=== {i}/{n} {r.demo.scenario.key}: {r.demo.scenario.title} ==="
    lines = [head, render_facts(r.facts)]
    if r.demo.photos:
        lines.append("Dataset grades of the attached photographs (for comparison with grading):")
        lines += [f"  {p.eye:<8}{p.grade_text}  [{p.name}]" for p in r.demo.photos]
    return "\n".join(lines)


def _as_json(r: DemoResult) -> JSON:
    return {
        "scenario": r.demo.scenario.key,
        "patient": f"Patient/{r.patient_id}",
        "facts": r.facts.model_dump(mode="json"),
        "photos": [
            {"image": p.name, "eye": p.eye, "dr_grade": p.dr_grade, "maculopathy": p.maculopathy}
            for p in r.demo.photos
        ],
    }


def _footer(library: PhotoLibrary | None, results: list[DemoResult]) -> str:
    loaded = sum(len(r.demo.bundle["entry"]) for r in results)
    lines = [f"\nLoaded {len(results)} patients ({loaded} resources) and read them back."]
    if library is None:
        lines.append(
            f"No fundus photographs attached: the shared data was not found at {data_dir()} "
            f"(set {DATA_DIR_ENV} to the folder that holds fundus/srahim-dr600)."
        )
    else:
        lines.append(ATTRIBUTION)
    lines.append("Next: grading the photographs and drafting advice (later issues).")
    return "\n".join(lines)


def main() -> int:  # convenience: `python -m plugin.demo.run`
    run_demo(seed=20240, as_of=date.today(), library=PhotoLibrary.open())
    return 0


if __name__ == "__main__":
    sys.exit(main())
