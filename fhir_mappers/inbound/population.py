"""Patient -> the population whose BMI cut-offs apply (ADA general / Asian American, or the
Chinese criteria of the CDS guideline), only when the record says so explicitly:

  1. a current address in China (Patient.address.country CN / CHN / China / 中国, not an
     old or temporary address, period not ended) -> chinese;
  2. the US Core race extension with OMB category 2028-9 (Asian) or a detailed Asian code
     (2034-7 Chinese, ...) -> asian_american (US Core is the US profile: ADA's Asian
     American cut-offs apply, whatever the detailed origin);
  3. Patient.communication in mainland Chinese (zh, zh-CN, zh-Hans), preferred or the only
     language, with no address in another country -> chinese, with a warning saying it was
     inferred from the language.
Anything else (no race, other languages, zh-TW / zh-HK) says nothing: the deployment's
default population applies (AdviceSettings.population), then ADA's general cut-offs.
"""

from __future__ import annotations

from datetime import date

from fhir_mappers.inbound import advice_codes as ac
from fhir_mappers.inbound.context import MappingContext
from fhir_mappers.inbound.fhir_json import JsonObj, codings, obj, objs, parse_time, text
from models.clinical_facts import Population, PopulationFact


def _current_countries(patient: JsonObj, as_of: date) -> list[str]:
    out: list[str] = []
    for address in objs(patient, "address"):
        if text(address, "use") in ("old", "temp"):
            continue
        period = obj(address, "period")
        end = parse_time(period.get("end")) if period is not None else None
        if end is not None and end.day < as_of:
            continue
        country = text(address, "country")
        if country:
            out.append(country.strip().lower())
    return out


def _race_codes(patient: JsonObj) -> set[str]:
    codes: set[str] = set()
    for ext in objs(patient, "extension"):
        if text(ext, "url") != ac.US_CORE_RACE:
            continue
        for sub in objs(ext, "extension"):
            if text(sub, "url") in ("ombCategory", "detailed"):
                coding = obj(sub, "valueCoding")
                system = text(coding, "system")
                code = text(coding, "code")
                if code and (system is None or system in ac.CDC_RACE_SYSTEMS):
                    codes.add(code)
    return codes


def _chinese_language(patient: JsonObj) -> bool:
    comms = objs(patient, "communication")
    preferred = [c for c in comms if c.get("preferred") is True]
    chosen = preferred or (list(comms) if len(comms) == 1 else [])
    for comm in chosen:
        language = obj(comm, "language")
        for c in codings(language):
            if ac.CHINESE_LANGUAGE.match(c.code.strip().lower()):
                return True
        label = (text(language, "text") or "").strip().lower()
        if label and ac.CHINESE_LANGUAGE_TEXT.match(label):
            return True
    return False


def population_of(patient: JsonObj | None, ctx: MappingContext) -> PopulationFact | None:
    if patient is None:
        return None
    ref = ctx.ref(patient)
    countries = _current_countries(patient, ctx.as_of)
    if any(ac.CHINA_COUNTRY.match(c) for c in countries):
        return PopulationFact(source=ref, population=Population.CHINESE, basis="address in China")
    races = _race_codes(patient)
    if ac.OMB_ASIAN in races or races & ac.CDC_ASIAN_DETAILED:
        return PopulationFact(
            source=ref,
            population=Population.ASIAN_AMERICAN,
            basis="US Core race: Asian (OMB 2028-9)",
        )
    if _chinese_language(patient) and not countries:
        ctx.warn(ref, "BMI population inferred from the preferred language (zh) as chinese")
        return PopulationFact(
            source=ref, population=Population.CHINESE, basis="preferred language Chinese (zh)"
        )
    return None
