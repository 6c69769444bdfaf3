"""MedicationRequest / MedicationStatement -> current medications, one fact per drug class.

Current means: MedicationRequest status active or on-hold with intent order/plan (or any
*-order; proposals and options are not prescriptions); MedicationStatement status active or
on-hold whose effectivePeriod has not ended before `as_of`. The drug comes from
medicationCodeableConcept or medicationReference (a contained Medication, a Medication
elsewhere in the input, else the reference's display), then from its ingredients.
Classes come from ATC, RxNorm ingredient codes and names (medication_classes.py); a drug
with none is kept as class `other`.
"""

from __future__ import annotations

from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import (
    Code,
    JsonObj,
    codings,
    concept_text,
    first_display,
    obj,
    objs,
    parse_time,
    period_start,
    status_code,
    text,
)
from fhir_mappers.medication_classes import (
    RXNORM_INGREDIENTS,
    atc_classes,
    is_supply,
    name_classes,
)
from models.clinical_facts import MedicationClass, MedicationFact

_CURRENT = {"active", "on-hold"}
_REQUEST_INTENTS = {
    "order",
    "plan",
    "original-order",
    "reflex-order",
    "filler-order",
    "instance-order",
}


def _classes(concept: JsonObj | None) -> list[MedicationClass]:
    found: list[MedicationClass] = []

    def add(classes: tuple[MedicationClass, ...]) -> None:
        found.extend(c for c in classes if c not in found)

    for c in codings(concept):
        if c.kind == "atc":
            add(atc_classes(c.code))
        elif c.kind == "rxnorm":
            add(RXNORM_INGREDIENTS.get(c.code, ()))
    add(name_classes(concept_text(concept)))
    return found


def _best_coding(concept: JsonObj | None) -> Code | None:
    cs = codings(concept)
    for kind in ("rxnorm", "atc"):
        for c in cs:
            if c.kind == kind:
                return c
    return cs[0] if cs else None


def _drug(resource: JsonObj, ctx: MappingContext, ref: str) -> tuple[JsonObj | None, str | None]:
    """(the CodeableConcept that names the drug, a fallback name) for a request/statement."""
    concept = obj(resource, "medicationCodeableConcept")
    if concept is not None:
        return concept, None
    mref = obj(resource, "medicationReference")
    if mref is None:
        ctx.warn(ref, "no medication[x]; ignored")
        return None, None
    med = ctx.index.resolve(text(mref, "reference"), container=resource)
    if med is None:
        if text(mref, "reference"):
            ctx.warn(ref, "medicationReference not in the input; classified by its display")
        return None, text(mref, "display")
    code = obj(med, "code")
    if code is not None and _classes(code):
        return code, None
    # A Medication without a usable code: its ingredients, together (a combination product
    # gets every class).
    items: list[JsonObj] = []
    for ing in objs(med, "ingredient"):
        item = obj(ing, "itemCodeableConcept")
        if item is None:
            sub = ctx.index.resolve(text(obj(ing, "itemReference"), "reference"), container=med)
            item = obj(sub, "code") if sub else None
        if item is not None and _classes(item):
            items.append(item)
    if items:
        names = [first_display(i) or "?" for i in items]
        combined = {
            "coding": [c for i in items for c in objs(i, "coding")],
            "text": " / ".join(names),
        }
        return combined, first_display(code) if code else None
    return code, text(mref, "display")


def _is_current(resource: JsonObj, ctx: MappingContext, ref: str) -> str | None:
    """The status when the medication is current, else None."""
    rtype = text(resource, "resourceType")
    status = status_code(resource, "status")
    if status == "entered-in-error":
        ctx.warn(ref, "ignored (status entered-in-error)")
        return None
    if status is None:
        ctx.warn(ref, "no status; read as active")
        status = "active"
    if status not in _CURRENT:
        return None
    if rtype == "MedicationRequest":
        intent = status_code(resource, "intent")
        if intent is not None and intent not in _REQUEST_INTENTS:
            return None
    else:
        period = obj(resource, "effectivePeriod")
        end = parse_time(period.get("end")) if period else None
        if end is not None and end.day < ctx.as_of:
            ctx.warn(ref, "status active but effectivePeriod ended before as_of; not current")
            return None
    return status


def medications_of(resource: JsonObj, ctx: MappingContext) -> list[MedicationFact]:
    ref = ctx.ref(resource)
    status = _is_current(resource, ctx, ref)
    if status is None:
        return []
    concept, fallback_name = _drug(resource, ctx, ref)
    if concept is None and fallback_name is None:
        if obj(resource, "medicationReference") is not None:
            ctx.warn(ref, "medication could not be identified; kept as other")
            fallback_name = "unidentified medication"
        else:
            return []
    name = fallback_name or (first_display(concept) if concept is not None else None) or "?"
    if is_supply(name) or (concept is not None and is_supply(concept_text(concept))):
        return []
    classes = _classes(concept) if concept is not None else []
    if not classes and fallback_name:
        classes = list(name_classes(fallback_name))
    coding = _best_coding(concept)
    when = (
        parse_time(resource.get("authoredOn"))
        or parse_time(resource.get("effectiveDateTime"))
        or period_start(resource.get("effectivePeriod"))
        or parse_time(resource.get("dateAsserted"))
    )
    return [
        MedicationFact(
            source=ref,
            date=when.day if when else None,
            name=name,
            drug_class=cls,
            code=coding.code if coding else None,
            system=coding.system if coding else None,
            status=status,
        )
        for cls in (classes or [MedicationClass.OTHER])
    ]


def deduplicate(meds: list[MedicationFact]) -> tuple[MedicationFact, ...]:
    """One fact per (class, drug name): a drug both prescribed and reported appears once,
    with its latest date."""
    best: dict[tuple[str, str], MedicationFact] = {}
    for m in meds:
        key = (m.drug_class.value, m.name.strip().lower())
        old = best.get(key)
        if old is None or (m.date is not None and (old.date is None or m.date > old.date)):
            best[key] = m
    return tuple(sorted(best.values(), key=lambda m: (m.drug_class.value, m.name.lower())))
