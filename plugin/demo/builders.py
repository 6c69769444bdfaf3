"""Small builders for the demo's FHIR R4 resources, written the way EHRs write them
(several code systems, units with and without UCUM codes, partial dates).

One RecordBuilder makes one patient's transaction Bundle: every entry has a urn:uuid
fullUrl (deterministic from the seed) and a plain POST. (No conditional create: Medplum
runs a transaction holding one under strict isolation and refuses it past 8 entries; the
demo loads into a fresh server anyway.)
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from fhir_mappers import codes
from plugin.demo.photos import Photo

JSON = dict[str, Any]
DEMO_MRN_SYSTEM = f"{codes.DEEPDR_IDENTIFIER}/demo-mrn"
DEMO_IMAGE_SYSTEM = f"{codes.DEEPDR_IDENTIFIER}/demo-image"
OBS_CATEGORY = codes.OBSERVATION_CATEGORY
MEDIA_TYPE = "http://terminology.hl7.org/CodeSystem/media-type"
TZ = timezone(timedelta(hours=8))  # the demo clinic's local time; any offset would do


def coding(system: str, code: str, display: str | None = None) -> JSON:
    c: JSON = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def concept(*codings: JSON, text: str | None = None) -> JSON:
    out: JSON = {}
    if codings:
        out["coding"] = list(codings)
    if text:
        out["text"] = text
    return out


def loinc(code: str, display: str) -> JSON:
    return coding(codes.LOINC, code, display)


def snomed(code: str, display: str) -> JSON:
    return coding(codes.SNOMED, code, display)


def qty(value: float, unit: str, ucum: str | None = None) -> JSON:
    """A Quantity; `ucum` None gives the `unit`-only form many EHRs send."""
    q: JSON = {"value": value, "unit": unit}
    if ucum is not None:
        q |= {"system": codes.UCUM, "code": ucum}
    return q


class RecordBuilder:
    def __init__(self, rng: random.Random, as_of: date) -> None:
        self.rng = rng
        self.as_of = as_of
        self.entries: list[JSON] = []
        self.patient_url = self.urn()

    # --- plumbing ---------------------------------------------------------------------------
    def urn(self) -> str:
        return f"urn:uuid:{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"

    def add(self, resource: JSON) -> str:
        url = self.patient_url if resource["resourceType"] == "Patient" else self.urn()
        request: JSON = {"method": "POST", "url": resource["resourceType"]}
        self.entries.append({"fullUrl": url, "resource": resource, "request": request})
        return url

    def day(self, days_ago: int) -> date:
        return self.as_of - timedelta(days=days_ago)

    def when(self, days_ago: int) -> str:
        """A clinic-hours dateTime `days_ago` days before as_of, with its offset."""
        t = time(8 + self.rng.randrange(9), self.rng.randrange(60))
        return datetime.combine(self.day(days_ago), t, TZ).isoformat(timespec="seconds")

    @property
    def subject(self) -> JSON:
        return {"reference": self.patient_url}

    def bundle(self) -> JSON:
        return {"resourceType": "Bundle", "type": "transaction", "entry": self.entries}

    # --- resources --------------------------------------------------------------------------
    def patient(
        self, mrn: str, family: str, given: str, gender: str, birth_date: str, lang: str = "en"
    ) -> str:
        resource = {
            "resourceType": "Patient",
            "identifier": [{"system": DEMO_MRN_SYSTEM, "value": mrn}],
            "name": [{"family": family, "given": [given]}],
            "gender": gender,
            "birthDate": birth_date,
            "communication": [{"language": concept(coding("urn:ietf:bcp:47", lang))}],
        }
        return self.add(resource)

    def condition(
        self,
        code: JSON,
        *,
        onset: str | None = None,
        onset_age: float | None = None,
        recorded_days_ago: int | None = None,
        clinical: str | None = "active",
        verification: str = "confirmed",
        abatement: str | None = None,
    ) -> str:
        r: JSON = {
            "resourceType": "Condition",
            "verificationStatus": concept(coding(codes.CONDITION_VER_STATUS, verification)),
            "category": [
                concept(
                    coding(
                        "http://terminology.hl7.org/CodeSystem/condition-category",
                        "problem-list-item",
                    )
                )
            ],
            "code": code,
            "subject": self.subject,
        }
        if clinical:
            r["clinicalStatus"] = concept(coding(codes.CONDITION_CLINICAL, clinical))
        if onset:
            r["onsetDateTime"] = onset
        if onset_age is not None:
            r["onsetAge"] = qty(onset_age, "years", "a")
        if recorded_days_ago is not None:
            r["recordedDate"] = self.when(recorded_days_ago)
        if abatement:
            r["abatementDateTime"] = abatement
        return self.add(r)

    def observation(
        self,
        code: JSON,
        days_ago: int,
        *,
        category: str = "laboratory",
        value: JSON | None = None,
        value_string: str | None = None,
        value_concept: JSON | None = None,
        components: list[JSON] | None = None,
        status: str = "final",
        timing: str = "effectiveDateTime",
    ) -> str:
        r: JSON = {
            "resourceType": "Observation",
            "status": status,
            "category": [concept(coding(OBS_CATEGORY, category))],
            "code": code,
            "subject": self.subject,
        }
        stamp = self.when(days_ago)
        if timing == "effectiveDateTime":
            r["effectiveDateTime"] = stamp
        elif timing == "effectivePeriod":
            r["effectivePeriod"] = {"start": stamp}
        r["issued"] = stamp  # reported the same day; `timing="issued"` leaves only this
        if value is not None:
            r["valueQuantity"] = value
        if value_string is not None:
            r["valueString"] = value_string
        if value_concept is not None:
            r["valueCodeableConcept"] = value_concept
        if components:
            r["component"] = components
        return self.add(r)

    def blood_pressure(self, sbp: int, dbp: int, days_ago: int, panel: bool = True) -> None:
        sys_c = concept(loinc("8480-6", "Systolic blood pressure"))
        dia_c = concept(loinc("8462-4", "Diastolic blood pressure"))
        if panel:
            self.observation(
                concept(loinc("85354-9", "Blood pressure panel with all children optional")),
                days_ago,
                category="vital-signs",
                components=[
                    {"code": sys_c, "valueQuantity": qty(sbp, "mmHg", "mm[Hg]")},
                    {"code": dia_c, "valueQuantity": qty(dbp, "mmHg", "mm[Hg]")},
                ],
            )
        else:
            self.observation(sys_c, days_ago, category="vital-signs", value=qty(sbp, "mm Hg"))
            self.observation(dia_c, days_ago, category="vital-signs", value=qty(dbp, "mm Hg"))

    def medication(
        self,
        drug: JSON,
        *,
        kind: str = "MedicationRequest",
        status: str = "active",
        days_ago: int = 90,
        contained: bool = False,
        dosage: str | None = None,
    ) -> str:
        r: JSON = {"resourceType": kind, "status": status, "subject": self.subject}
        if kind == "MedicationRequest":
            r["intent"] = "order"
            r["authoredOn"] = self.when(days_ago)
        else:
            r["effectivePeriod"] = {"start": self.when(days_ago)}
            r["dateAsserted"] = self.when(min(days_ago, 7))
        if contained:
            r["contained"] = [{"resourceType": "Medication", "id": "med", "code": drug}]
            r["medicationReference"] = {"reference": "#med"}
        else:
            r["medicationCodeableConcept"] = drug
        if dosage:
            r["dosageInstruction" if kind == "MedicationRequest" else "dosage"] = [{"text": dosage}]
        return self.add(r)

    def medication_resource(self, code: JSON) -> str:
        return self.add({"resourceType": "Medication", "code": code})

    def photo(
        self, photo: Photo, days_ago: int, *, as_document: bool, coded_side: bool = True
    ) -> str:
        data = photo.path.read_bytes()
        side = "Left" if photo.eye == "left" else "Right"
        attachment: JSON = {
            "contentType": "image/jpeg",
            "data": base64.b64encode(data).decode("ascii"),
            "size": len(data),
            "hash": base64.b64encode(hashlib.sha1(data).digest()).decode("ascii"),
            "title": f"Fundus photograph, {side.lower()} eye",
        }
        identifier = [{"system": DEMO_IMAGE_SYSTEM, "value": photo.name}]
        site_code = "8966001" if photo.eye == "left" else "18944008"
        site = concept(snomed(site_code, f"{side} eye structure"))
        if as_document:
            r: JSON = {
                "resourceType": "DocumentReference",
                "identifier": identifier,
                "status": "current",
                "type": concept(text="Fundus photograph"),
                "category": [concept(text="Ophthalmology imaging")],
                "subject": self.subject,
                "date": self.when(days_ago),
                "description": f"Retinal photograph, {side.lower()} eye",
                "content": [{"attachment": attachment}],
                "context": {"practiceSetting": concept(text="Ophthalmology")},
            }
            if not coded_side:
                r["description"] = f"Colour fundus photo - {side.upper()} eye"
            return self.add(r)
        r = {
            "resourceType": "Media",
            "identifier": identifier,
            "status": "completed",
            "type": concept(coding(MEDIA_TYPE, "image", "Image")),
            "modality": concept(coding(codes.DICOM_DCM, "OP", "Ophthalmic Photography")),
            "subject": self.subject,
            "createdDateTime": self.when(days_ago),
            "content": attachment,
        }
        if coded_side:
            r["bodySite"] = site
        return self.add(r)
