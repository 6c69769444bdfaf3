"""Screening records: what each run of the screening workflow (plugin/workflow) found and
wrote, so the UI and the CDS service find a patient's latest screening in one indexed read.

    repo = ScreeningRepository(store.db, store.clock)
    saved = repo.save(NewScreening(...))      # insert, or update the same screening's row
    repo.latest("https://ehr/fhir", "Patient/123")

A screening is identified by (FHIR base, patient reference, screening key); the key hashes
the patient, the images' content hashes and the model versions, so running the same
screening again updates its row (`runs` + 1) rather than adding one. Patients appear as
FHIR references only.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from plugin.store.clock import Clock, from_ms, to_ms, utc_now
from plugin.store.database import Database, Row
from plugin.store.jsontext import canonical_json
from plugin.store.purge import purge_rows

ScreeningStatus = Literal["complete", "partial", "advice-only"]
STATUSES: frozenset[str] = frozenset({"complete", "partial", "advice-only"})
_PATIENT_REF = re.compile(r"^Patient/[A-Za-z0-9\-.]{1,64}$")


@dataclass(frozen=True)
class NewScreening:
    fhir_base: str
    patient_ref: str
    screening_key: str
    status: ScreeningStatus
    image_hashes: tuple[str, ...] = ()
    grader_model: str | None = None
    grader_version: str | None = None
    advice_engine: str | None = None
    advice_version: str | None = None
    written: dict[str, str] = field(default_factory=dict)  # entry name -> "Type/id"
    problems: list[dict[str, Any]] = field(default_factory=list)  # per-image problems
    summary: dict[str, Any] = field(default_factory=dict)  # per-eye findings, counts
    grading: dict[str, Any] | None = None  # PatientGrading JSON
    advice: dict[str, Any] | None = None  # AdviceDraft JSON
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScreeningRecord(NewScreening):
    id: str = ""
    runs: int = 1
    created_at: datetime | None = None
    updated_at: datetime | None = None


def normalise_base(fhir_base: str) -> str:
    return fhir_base.strip().rstrip("/")


def _check(new: NewScreening) -> None:
    if not normalise_base(new.fhir_base):
        raise ValueError("a screening needs the FHIR base URL it was read from")
    if not _PATIENT_REF.match(new.patient_ref):
        raise ValueError("patient_ref must look like Patient/<id>")
    if not new.screening_key:
        raise ValueError("a screening needs a screening key")
    if new.status not in STATUSES:
        raise ValueError(f"screening status must be one of {sorted(STATUSES)}")


class ScreeningRepository:
    def __init__(self, db: Database, clock: Clock = utc_now) -> None:
        self._db = db
        self._clock = clock

    def save(self, new: NewScreening) -> ScreeningRecord:
        """Inserts the screening, or updates the row of the same (base, patient, key):
        its id and creation time stay, `runs` goes up by one."""
        _check(new)
        now_ms = to_ms(self._clock())
        values = (
            uuid.uuid4().hex,
            normalise_base(new.fhir_base),
            new.patient_ref,
            new.screening_key,
            new.status,
            new.grader_model,
            new.grader_version,
            new.advice_engine,
            new.advice_version,
            canonical_json(list(new.image_hashes)),
            canonical_json(new.written),
            canonical_json(new.problems),
            canonical_json(new.summary),
            canonical_json(new.grading) if new.grading is not None else None,
            canonical_json(new.advice) if new.advice is not None else None,
            canonical_json(new.timings_ms),
            now_ms,
            now_ms,
        )
        with self._db.transaction() as tx:
            row = tx.fetchone(
                "INSERT INTO screenings (id, fhir_base, patient_ref, screening_key, status,"
                " grader_model, grader_version, advice_engine, advice_version, image_hashes,"
                " written, problems, summary, grading, advice, timings, created_ms, updated_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (fhir_base, patient_ref, screening_key) DO UPDATE SET"
                " status = excluded.status, grader_model = excluded.grader_model,"
                " grader_version = excluded.grader_version,"
                " advice_engine = excluded.advice_engine,"
                " advice_version = excluded.advice_version,"
                " image_hashes = excluded.image_hashes, written = excluded.written,"
                " problems = excluded.problems, summary = excluded.summary,"
                " grading = excluded.grading, advice = excluded.advice,"
                " timings = excluded.timings, runs = screenings.runs + 1,"
                " updated_ms = excluded.updated_ms"
                " RETURNING *",
                values,
            )
        assert row is not None  # inserted or updated, in this transaction
        return _record(row)

    def get(self, screening_id: str) -> ScreeningRecord | None:
        with self._db.read() as tx:
            row = tx.fetchone("SELECT * FROM screenings WHERE id = ?", (screening_id,))
        return _record(row) if row else None

    def latest(self, fhir_base: str, patient_ref: str) -> ScreeningRecord | None:
        """The most recently run screening of the patient on that FHIR server."""
        found = self.for_patient(fhir_base, patient_ref, limit=1)
        return found[0] if found else None

    def for_patient(
        self, fhir_base: str, patient_ref: str, limit: int = 20
    ) -> list[ScreeningRecord]:
        """Newest first."""
        with self._db.read() as tx:
            rows = tx.fetchall(
                "SELECT * FROM screenings WHERE fhir_base = ? AND patient_ref = ?"
                " ORDER BY updated_ms DESC, created_ms DESC, id LIMIT ?",
                (normalise_base(fhir_base), patient_ref, limit),
            )
        return [_record(r) for r in rows]

    def purge_older_than(self, cutoff: datetime, *, dry_run: bool = False) -> int:
        """Deletes screenings last run before `cutoff` (retention); `dry_run` counts them."""
        return purge_rows(
            self._db, "screenings", ("id",), "updated_ms < ?", (to_ms(cutoff),), dry_run=dry_run
        )


def _json(text: str | None) -> Any:
    return json.loads(text) if text is not None else None


def _record(row: Row) -> ScreeningRecord:
    return ScreeningRecord(
        id=row["id"],
        fhir_base=row["fhir_base"],
        patient_ref=row["patient_ref"],
        screening_key=row["screening_key"],
        status=row["status"],
        image_hashes=tuple(_json(row["image_hashes"])),
        grader_model=row["grader_model"],
        grader_version=row["grader_version"],
        advice_engine=row["advice_engine"],
        advice_version=row["advice_version"],
        written=_json(row["written"]),
        problems=_json(row["problems"]),
        summary=_json(row["summary"]),
        grading=_json(row["grading"]),
        advice=_json(row["advice"]),
        timings_ms=_json(row["timings"]),
        runs=int(row["runs"]),
        created_at=from_ms(int(row["created_ms"])),
        updated_at=from_ms(int(row["updated_ms"])),
    )
