"""Codes for what the advice needs beyond diseases and labs: frailty, hypoglycaemia, limited
life expectancy, alcohol, retinal examinations, population (race, language, country).

Tags (as in condition_codes.py): ``frailty`` or ``frailty:<mild|moderate|severe>``,
``hypo`` or ``hypo:coma``, ``life`` (limited life expectancy), ``alcohol:heavy``.
Sources of the codes, checked in public code lists (2025):
  * frailty: SNOMED CT 248279007 |Frailty| and 404904002 |Frail elderly| (NCQA "Frailty
    Diagnosis" value set users, NHS frailty reference sets), the UK electronic Frailty
    Index codes 925791000000100 / 925831000000107 / 925861000000102 (mild / moderate /
    severe); ICD-10 R54 (age-related physical debility, which ICD-10-CM indexes for
    "frailty"). The Clinical Frailty Scale is read from its SNOMED CT observable 763264000
    (or 713636003 with method 445414007), as the HL7 Germany GECCO profiles record it: no
    LOINC term for the CFS could be confirmed, so none is listed;
  * hypoglycaemia: SNOMED CT concepts of the Stanford EHRSHOT hypoglycaemia phenotype
    (302866003 |Hypoglycemia| and its coded variants); ICD-10 E16.0-E16.2, E15 (coma) and
    ICD-10-CM E08-E13 .64x (.641 with coma);
  * limited life expectancy: the CMS eCQM value set "Limited Life Expectancy"
    (2.16.840.1.113883.3.526.3.1259: SNOMED 162607003, 162608008, 170969009, 27143004,
    300936002 |Terminal illness|), palliative care 103735009, hospice care 385763009 /
    385765002, dying care 385736008; ICD-10 Z51.5 (encounter for palliative care);
  * alcohol: ICD-10 F10.1 / F10.2 (harmful use, dependence; ICD-10-CM 6th character 1 = in
    remission, not current); LOINC 74013-4 alcoholic drinks per day, 75626-2 AUDIT-C total
    score, 11331-6 history of alcohol use, 72109-2 AUDIT-C panel;
  * retinal examinations: the CMS131 eCQM value set "Retinal or Dilated Eye Exam"
    (2.16.840.1.113883.3.464.1003.115.12.1088, expansion 2025-05-08; its
    electroretinography and ophthalmodynamometry entries left out: they do not look at the
    retina for retinopathy), SNOMED 134395001 |Diabetic retinopathy screening|, CPT 92250 /
    92227 / 92228 / 92229 and CPT II 2022F-2026F / 2033F; LOINC 71490-7 / 71491-5 (DR
    severity per eye) and 71488-1 / 71489-9 (macular oedema per eye) with answer list
    LL2117-1; our retinal screening report 103592-2;
  * population: US Core race extension, OMB category 2028-9 |Asian| (and its detailed Asian
    codes) in urn:oid:2.16.840.1.113883.6.238; ISO 3166 country CN / CHN.
"""

from __future__ import annotations

import re

# --- Conditions (SNOMED CT) -------------------------------------------------------------------
SNOMED_ADVICE_TAGS: dict[str, str] = {
    # Frailty
    "248279007": "frailty",  # Frailty (finding)
    "404904002": "frailty",  # Frail elderly (finding)
    "925791000000100": "frailty:mild",  # Mild frailty (UK eFI)
    "925831000000107": "frailty:moderate",  # Moderate frailty (UK eFI)
    "925861000000102": "frailty:severe",  # Severe frailty (UK eFI)
    # Hypoglycaemia
    "302866003": "hypo",  # Hypoglycemia (disorder)
    "267384006": "hypo:coma",  # Hypoglycemic coma
    "421725003": "hypo:coma",  # Hypoglycemic coma due to diabetes mellitus
    "719216001": "hypo:coma",  # Hypoglycemic coma due to type 2 diabetes mellitus
    "314771006": "hypo:coma",  # Type 1 diabetes mellitus with hypoglycemic coma
    "237633009": "hypo",  # Hypoglycemic state in diabetes (EHRSHOT phenotype)
    "120731000119103": "hypo",  # Hypoglycemia due to type 2 diabetes (EHRSHOT phenotype)
    "84371000119108": "hypo",  # Hypoglycemia due to type 1 diabetes (EHRSHOT phenotype)
    "230796005": "hypo",  # Hypoglycemic encephalopathy (EHRSHOT phenotype)
    "421437000": "hypo",  # Hypoglycemic event due to diabetes (EHRSHOT phenotype)
    "237637005": "hypo",  # Insulin-induced hypoglycemia (EHRSHOT phenotype)
    # Limited life expectancy (CMS value set 2.16.840.1.113883.3.526.3.1259) and end-of-life care
    "162607003": "life",
    "162608008": "life",
    "170969009": "life",
    "27143004": "life",
    "300936002": "life",  # Terminal illness (finding)
    "103735009": "life",  # Palliative care (regime/therapy)
    "385763009": "life",  # Hospice care (regime/therapy)
    "385765002": "life",  # Hospice care management (procedure)
    "385736008": "life",  # Dying care (regime/therapy)
    # Alcohol use disorder
    "7200002": "alcohol:heavy",  # Alcoholism
    "66590003": "alcohol:heavy",  # Alcohol dependence
    "15167005": "alcohol:heavy",  # Alcohol abuse
}


def icd10_advice_tags(code: str) -> str | None:
    """Tags of an ICD-10 / ICD-10-CM code without its dot; None when not one of ours."""
    c = code.upper()
    head, rest = c[:3], c[3:]
    if head in ("E08", "E09", "E10", "E11", "E13") and rest.startswith("64"):
        return "hypo:coma" if rest.startswith("641") else "hypo"  # .641 with coma
    if head == "E15":
        return "hypo:coma"  # nondiabetic hypoglycaemic coma
    if head == "E16" and rest[:1] in ("0", "1", "2"):
        return "hypo"  # drug-induced / other / unspecified hypoglycaemia
    if c.startswith("R54"):
        return "frailty"
    if c.startswith("Z515"):
        return "life"
    if head == "F10" and rest[:1] in ("1", "2"):
        # ICD-10-CM F10.11 / F10.21: in remission; WHO F10.1 / F10.2 have no 5th character.
        return None if rest[1:2] == "1" else "alcohol:heavy"
    return None


_FRAIL = re.compile(r"\bfrail(?:ty)?\b|衰弱")
_FRAIL_SEVERITY = re.compile(r"\b(mild|moderate|severe)\b")
_HYPO = re.compile(r"hypoglyc|低血糖")
_HYPO_COMA = re.compile(r"coma|昏迷")
_LIFE = re.compile(
    r"palliative|hospice|terminal(?:ly)? ill|end[- ]of[- ]life|dying care|limited life expectancy"
    r"|姑息|安宁疗护|临终|终末期关怀"
)
_ALCOHOL_DISORDER = re.compile(
    r"alcohol(?:ism| dependence| abuse| use disorder)|alcoholic\b(?! liver)|酒精依赖|酒精滥用|酗酒"
)
_NOT_CURRENT = re.compile(r"remission|history of|risk of|at risk|screening|缓解")


def advice_text_tags(label: str) -> set[str]:
    """Tags from a lower-cased display text, for codes no table holds. Conservative: a
    label that speaks of risk, screening or remission gives nothing."""
    if not label or _NOT_CURRENT.search(label):
        return set()
    tags: set[str] = set()
    if _FRAIL.search(label) and "not frail" not in label:
        m = _FRAIL_SEVERITY.search(label)
        tags.add(f"frailty:{m.group(1)}" if m else "frailty")
    if _HYPO.search(label):
        tags.add("hypo:coma" if _HYPO_COMA.search(label) else "hypo")
    if _LIFE.search(label):
        tags.add("life")
    if _ALCOHOL_DISORDER.search(label):
        tags.add("alcohol:heavy")
    return tags


# --- Observations (LOINC / SNOMED observables) ------------------------------------------------
SNOMED_CFS_SCORE = frozenset({"763264000"})  # CSHA Clinical Frailty Scale score
SNOMED_FRAILTY_INDEX = "713636003"  # Frailty index score: CFS only with method 445414007
SNOMED_CFS_METHOD = "445414007"  # CSHA clinical frailty scale (assessment scale)
LOINC_ALCOHOL_DRINKS_PER_DAY = "74013-4"
LOINC_AUDIT_C_TOTAL = "75626-2"
LOINC_AUDIT_C_PANEL = "72109-2"
LOINC_ALCOHOL_HISTORY = "11331-6"
LOINC_DR_SEVERITY = frozenset({"71490-7", "71491-5"})  # left / right eye
LOINC_MACULAR_EDEMA = frozenset({"71488-1", "71489-9"})  # left / right eye
LA_NO_RETINOPATHY = "LA18643-9"
LA_RETINOPATHY = frozenset({"LA18644-7", "LA18645-4", "LA18646-2", "LA18648-8"})
LOINC_RETINAL_SCREENING_REPORT = "103592-2"

# --- Procedures ------------------------------------------------------------------------------
# The one list of retinal-exam codes: the inbound mappers' last_eye_exam and the CDS service's
# "screening due" evidence, Procedure prefetch and order hooks (plugin.cds.codes) all use it.
SNOMED_EYE_EXAM_PROCEDURES: dict[str, str] = {
    "20067007": "Ocular fundus photography",
    "3047001": "Kowa fundus photography",
    "314971001": "Camera fundoscopy",
    "308110009": "Direct fundoscopy following mydriatic",
    "314972008": "Indirect fundoscopy following mydriatic",
    "30842004": "Ophthalmoscopy with medical evaluation, extended, with fundus photography",
    "36844005": "Ophthalmoscopy with medical evaluation, extended",
    "410441007": "Ophthalmoscopy ... with fluorescein angiography",
    "56072006": "Ophthalmoscopy ... for retinal detachment mapping",
    "18188000": "Ophthalmoscopy under general anesthesia",
    "53524009": "Ophthalmoscopy",
    "410450009": "Direct ophthalmoscopy",
    "410451008": "Indirect ophthalmoscopy",
    "410452001": "Monocular indirect ophthalmoscopy",
    "410453006": "Binocular indirect ophthalmoscopy",
    "410455004": "Slit lamp fundus examination",
    "252846004": "Scanning laser ophthalmoscopy",
    "391999003": "Confocal scanning laser ophthalmoscopy",
    "416369006": "Integrated OCT and scanning laser ophthalmoscopy",
    "417587001": "Integrated ray-trace ... with conventional fundus imaging",
    "700070005": "Optical coherence tomography of retina",
    "274795007": "Examination of optic disc",
    "274798009": "Examination of retina",
    "427478009": "Evaluation of retina",
    "425816006": "Ultrasonic evaluation of retina",
    "722161008": "Diabetic retinal eye exam",
    "134395001": "Diabetic retinopathy screening",
}
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
CPT_EYE_EXAM: dict[str, str] = {
    "92250": "Fundus photography with interpretation and report",
    # AMA descriptors since 2021: "Imaging of retina for detection or monitoring of disease; ..."
    "92227": "Retinal imaging, remote clinical staff review and report",
    "92228": "Retinal imaging, remote physician interpretation and report",
    "92229": "Retinal imaging, point-of-care autonomous analysis and report",
    "2022F": "Dilated retinal eye exam, interpreted, with evidence of retinopathy",
    "2023F": "Dilated retinal eye exam, interpreted, without evidence of retinopathy",
    "2024F": "7 standard field stereoscopic retinal photos, with evidence of retinopathy",
    "2025F": "7 standard field stereoscopic retinal photos, without evidence of retinopathy",
    "2026F": "Eye imaging validated to match 7-field photos, with evidence of retinopathy",
    "2033F": "Eye imaging validated to match 7-field photos, without evidence of retinopathy",
}
CPT_RETINOPATHY: dict[str, bool] = {
    "2022F": True,
    "2024F": True,
    "2026F": True,
    "2023F": False,
    "2025F": False,
    "2033F": False,
}

# --- Population --------------------------------------------------------------------------------
US_CORE_RACE = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race"
CDC_RACE_SYSTEMS = frozenset({"urn:oid:2.16.840.1.113883.6.238"})
OMB_ASIAN = "2028-9"
# Detailed CDC race codes under Asian (2028-9): Asian Indian, Bangladeshi, Bhutanese, Burmese,
# Cambodian, Chinese, Taiwanese, Filipino, Hmong, Indonesian, Japanese, Korean, Laotian,
# Malaysian, Okinawan, Pakistani, Sri Lankan, Thai, Vietnamese, Iwo Jiman, Maldivian,
# Nepalese, Singaporean, Madagascar.
CDC_ASIAN_DETAILED = frozenset(
    {
        "2029-7", "2030-5", "2031-3", "2032-1", "2033-9", "2034-7", "2035-4", "2036-2",
        "2037-0", "2038-8", "2039-6", "2040-4", "2041-2", "2042-0", "2043-8", "2044-6",
        "2045-3", "2046-1", "2047-9", "2048-7", "2049-5", "2050-3", "2051-1", "2052-9",
    }
)  # fmt: skip
CHINA_COUNTRY = re.compile(
    r"^(?:cn|chn|156|china|people'?s republic of china|prc|中国|中华人民共和国)$"
)
# Mainland Chinese only (zh, zh-CN, zh-Hans, zh-Hans-CN): zh-TW / zh-HK / zh-SG and the
# like say nothing about which national BMI criteria apply.
CHINESE_LANGUAGE = re.compile(r"^(?:zh|zho|chi)(?:-(?:cn|hans(?:-cn)?))?$")
CHINESE_LANGUAGE_TEXT = re.compile(r"^(?:chinese|mandarin|中文|汉语|普通话)$")
