"""Generate the demo patients: one FHIR transaction Bundle per patient, deterministic for a
given seed and reference date (every date is relative to `as_of`).

    patients = generate_demo(seed=7, as_of=date(2025, 3, 1))
    export_demo(patients, Path("out/"))   # bundle per patient + manifest.json
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from plugin.demo.builders import RecordBuilder
from plugin.demo.photos import ATTRIBUTION, Photo, PhotoLibrary
from plugin.demo.scenarios import SCENARIOS, Scenario

DEFAULT_SEED = 20240
_UNSET: Any = object()


@dataclass(frozen=True)
class DemoPatient:
    scenario: Scenario
    bundle: dict[str, Any]
    photos: tuple[Photo, ...]  # attached photographs with their dataset grades

    @property
    def mrn(self) -> str:
        patient = self.bundle["entry"][0]["resource"]
        return str(patient["identifier"][0]["value"])


def generate_demo(
    seed: int = DEFAULT_SEED,
    as_of: date | None = None,
    library: PhotoLibrary | None = _UNSET,
) -> list[DemoPatient]:
    """The demo patients. `library` None: no photographs; unset: the shared data if found."""
    as_of = as_of or date.today()
    if library is _UNSET:
        library = PhotoLibrary.open()
    out: list[DemoPatient] = []
    for scenario in SCENARIOS:
        rng = random.Random(f"{seed}:{scenario.key}")
        photos = (
            library.pick(rng, scenario.photo_grade, scenario.photo_maculopathy)
            if library is not None
            else None
        )
        builder = RecordBuilder(rng, as_of)
        scenario.build(builder, photos)
        attached = _attached(builder.bundle(), photos)
        out.append(DemoPatient(scenario, builder.bundle(), attached))
    return out


def _attached(bundle: dict[str, Any], photos: dict[str, Photo] | None) -> tuple[Photo, ...]:
    names = {
        ident["value"]
        for e in bundle["entry"]
        for ident in e["resource"].get("identifier", [])
        if e["resource"]["resourceType"] in ("Media", "DocumentReference")
    }
    return tuple(p for p in (photos or {}).values() if p.name in names)


def manifest(patients: list[DemoPatient]) -> dict[str, Any]:
    """What the demo knows and the record does not: each photograph's dataset grade."""
    return {
        "attribution": ATTRIBUTION,
        "patients": [
            {
                "scenario": p.scenario.key,
                "title": p.scenario.title,
                "mrn": p.mrn,
                "photos": [
                    {
                        "image": ph.name,
                        "eye": ph.eye,
                        "dr_grade": ph.dr_grade,
                        "maculopathy": ph.maculopathy,
                        "referable": ph.referable,
                    }
                    for ph in p.photos
                ],
            }
            for p in patients
        ],
    }


def export_demo(patients: list[DemoPatient], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, p in enumerate(patients, 1):
        path = out_dir / f"{i:02d}-{p.scenario.key}.json"
        path.write_text(json.dumps(p.bundle, ensure_ascii=False, indent=1), encoding="utf-8")
        written.append(path)
    path = out_dir / "manifest.json"
    path.write_text(json.dumps(manifest(patients), ensure_ascii=False, indent=1), encoding="utf-8")
    written.append(path)
    return written
