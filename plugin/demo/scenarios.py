"""The demo patients: eight records written the way different EHRs write them.

Synthetic people (names, dates and values are invented; the photographs are real and
labelled, see photos.py). Each scenario exercises something the inbound mappers must handle:
SNOMED / ICD-10-CM (with and without dots) / WHO ICD-10 / Chinese text; labs in SI and US
units, IFCC HbA1c, UK-style mg/mmol UACR, pounds and inches; BP as panels and as single
observations; RxNorm, ATC, brand, Chinese and contained medications; and messy data (a
refuted diagnosis, an entered-in-error lab, an unknown unit, a typo, a cancelled order).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fhir_mappers import codes
from plugin.demo.builders import RecordBuilder, coding, concept, loinc, qty, snomed
from plugin.demo.photos import Photo

ICD10CM = codes.ICD10_CM
ICD10 = codes.ICD10


def rx(rxcui: str, ingredient: str, text: str) -> dict[str, object]:
    return concept(coding(codes.RXNORM, rxcui, ingredient), text=text)


def atc(code: str, display: str, text: str | None = None) -> dict[str, object]:
    return concept(coding(codes.ATC, code, display), text=text or display)


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    photo_grade: int  # worse eye's ICDR grade of the photographs to attach
    photo_maculopathy: bool | None
    build: Callable[[RecordBuilder, dict[str, Photo] | None], None]


def _j(b: RecordBuilder, base: float, spread: float, ndigits: int = 1) -> float:
    return round(base + b.rng.uniform(-spread, spread), ndigits)


def _photos(b: RecordBuilder, photos: dict[str, Photo] | None, days_ago: int, doc: bool) -> None:
    for eye in ("right", "left"):
        if photos and eye in photos:
            b.photo(photos[eye], days_ago, as_document=doc)


def type1_young(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0001", "Okafor", "Amara", "female", f"{b.as_of.year - 24}-03-14")
    b.condition(concept(snomed("46635009", "Type 1 diabetes mellitus")), onset_age=9)
    b.observation(
        concept(loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")),
        21,
        value=qty(_j(b, 8.1, 0.2), "%", "%"),
    )
    b.observation(
        concept(loinc("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma")),
        21,
        value=qty(_j(b, 9.4, 0.5), "mmol/L", "mmol/L"),
    )
    b.blood_pressure(118, 74, 21)
    b.observation(
        concept(loinc("8867-4", "Heart rate")),
        21,
        category="vital-signs",
        value=qty(72, "/min", "/min"),
    )
    b.observation(
        concept(loinc("29463-7", "Body weight")),
        21,
        category="vital-signs",
        value=qty(61.5, "kg", "kg"),
    )
    b.observation(
        concept(loinc("8302-2", "Body height")),
        21,
        category="vital-signs",
        value=qty(168, "cm", "cm"),
    )
    b.observation(
        concept(loinc("39156-5", "Body mass index (BMI) [Ratio]")),
        21,
        category="vital-signs",
        value=qty(21.8, "kg/m2", "kg/m2"),
    )
    b.observation(
        concept(loinc("98979-8", "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI 2021)")),
        21,
        value=qty(118, "mL/min/1.73m2", "mL/min/{1.73_m2}"),
    )
    b.observation(
        concept(loinc("14959-1", "Microalbumin/Creatinine [Mass Ratio] in Urine")),
        21,
        value=qty(8, "mg/g", "mg/g"),
    )
    b.observation(
        concept(loinc("72166-2", "Tobacco smoking status")),
        21,
        category="social-history",
        value_concept=concept(coding(codes.LOINC, "LA18978-9", "Never smoker")),
    )
    b.medication(
        rx("274783", "insulin glargine", "insulin glargine 100 UNT/ML Injectable Solution [Lantus]")
    )
    b.medication(rx("86009", "insulin lispro", "insulin lispro 100 UNT/ML [Humalog] KwikPen"))
    _photos(b, photos, 21, doc=False)


def type2_ckd(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0002", "Whitfield", "George", "male", f"{b.as_of.year - 67}-11-02")
    b.condition(concept(snomed("44054006", "Type 2 diabetes mellitus")), onset="2009-06")
    b.condition(
        concept(snomed("700379002", "Chronic kidney disease stage 3B")),
        onset=f"{b.as_of.year - 3}-02-10",
    )
    b.condition(
        concept(
            snomed("59621000", "Essential hypertension"),
            coding(ICD10CM, "I10", "Essential (primary) hypertension"),
        ),
        onset="2004",
    )
    b.condition(
        concept(
            snomed("1551000119108", "Nonproliferative retinopathy due to type 2 diabetes mellitus")
        ),
        onset=f"{b.as_of.year - 2}-05-20",
    )
    b.observation(
        concept(loinc("17856-6", "Hemoglobin A1c/Hemoglobin.total in Blood by HPLC")),
        35,
        value=qty(_j(b, 7.9, 0.2), "%", "%"),
    )
    b.observation(
        concept(loinc("62238-1", "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI)")),
        35,
        value=qty(38, "mL/min/{1.73_m2}", "mL/min/{1.73_m2}"),
    )
    b.observation(
        concept(loinc("14959-1", "Microalbumin/Creatinine [Mass Ratio] in Urine")),
        35,
        value=qty(12.5, "mg/mmol", "mg/mmol"),
    )
    b.observation(
        concept(loinc("22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma")),
        35,
        value=qty(_j(b, 2.9, 0.2), "mmol/L"),
    )
    b.observation(
        concept(loinc("1742-6", "Alanine aminotransferase [Enzymatic activity/volume]")),
        35,
        value=qty(31, "U/L", "U/L"),
    )
    b.observation(
        concept(loinc("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume]")),
        35,
        value=qty(27, "IU/L", "[IU]/L"),
    )
    b.blood_pressure(148, 86, 35)
    b.medication(
        rx("6809", "metformin", "metformin hydrochloride 500 MG Extended Release Oral Tablet"),
        dosage="1000 mg once daily (reduced for eGFR)",
    )
    b.medication(rx("1545653", "empagliflozin", "empagliflozin 10 MG Oral Tablet [Jardiance]"))
    b.medication(rx("29046", "lisinopril", "lisinopril 20 MG Oral Tablet"))
    b.medication(atc("C10AA05", "atorvastatin", "Atorvastatin 40 mg tablet"))
    _photos(b, photos, 35, doc=False)


def elderly_frail(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0003", "Moreau", "Colette", "female", f"{b.as_of.year - 84}-07")
    b.condition(
        concept(coding(ICD10CM, "E119", "Type 2 diabetes mellitus without complications")),
        onset="1998",
    )
    b.condition(concept(snomed("84114007", "Heart failure")), onset=f"{b.as_of.year - 4}-01-15")
    b.condition(concept(coding(ICD10CM, "I25.2", "Old myocardial infarction")), onset="2011-09-30")
    b.condition(
        concept(snomed("709044004", "Chronic kidney disease"), text="CKD stage 4"),
        onset=f"{b.as_of.year - 2}",
    )
    b.observation(
        concept(loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")),
        400,
        value=qty(7.4, "%", "%"),
    )
    b.observation(
        concept(loinc("98979-8", "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI 2021)")),
        60,
        value=qty(27, "mL/min/1.73m2"),
    )
    b.blood_pressure(132, 64, 60, panel=False)
    b.medication(atc("A10BB07", "glipizide", "Glipizide 5 mg tablet"))
    b.medication(atc("C03CA01", "furosemide", "Furosemide 40 mg tablet"))
    b.medication(atc("C07AB07", "bisoprolol", "Bisoprolol 2.5 mg tablet"))
    b.medication(atc("B01AF02", "apixaban", "Apixaban 2.5 mg tablet"))
    b.medication(rx("6809", "metformin", "metformin 500 MG Oral Tablet"), status="stopped")
    _photos(b, photos, 60, doc=True)


def pregnant(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0004", "Haddad", "Layla", "female", f"{b.as_of.year - 31}-09-23")
    b.condition(
        concept(
            snomed("44054006", "Type 2 diabetes mellitus"),
            coding(ICD10CM, "E11.9", "Type 2 diabetes mellitus without complications"),
        ),
        onset=f"{b.as_of.year - 5}-04",
    )
    b.condition(concept(snomed("77386006", "Pregnant")), onset=b.when(95))
    b.observation(
        concept(loinc("82810-3", "Pregnancy status")),
        14,
        category="social-history",
        value_concept=concept(coding(codes.LOINC, "LA15173-0", "Pregnant")),
    )
    b.observation(
        concept(loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood")),
        14,
        value=qty(6.4, "%", "%"),
    )
    b.observation(
        concept(loinc("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma")),
        14,
        value=qty(101, "mg/dL", "mg/dL"),
    )
    b.blood_pressure(122, 78, 14)
    b.medication(concept(text="NovoRapid (insulin aspart) FlexPen 100 units/mL"))
    b.medication(
        rx("6809", "metformin", "metformin 500 MG Oral Tablet"),
        kind="MedicationStatement",
        status="completed",
        days_ago=200,
    )
    _photos(b, photos, 14, doc=False)


def smoker_us_units(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0005", "Kowalski", "Daniel", "male", f"{b.as_of.year - 52}-01-30")
    b.condition(
        concept(coding(ICD10CM, "E11.65", "Type 2 diabetes mellitus with hyperglycemia")),
        onset="2016-03-01",
    )
    b.condition(concept(coding(ICD10CM, "I10", "Essential (primary) hypertension")), onset="2018")
    b.observation(
        concept(loinc("72166-2", "Tobacco smoking status")),
        10,
        category="social-history",
        value_concept=concept(
            snomed("449868002", "Smokes tobacco daily"),
            coding(codes.LOINC, "LA18976-3", "Current every day smoker"),
        ),
    )
    b.observation(
        concept(loinc("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol")),
        10,
        value=qty(64, "mmol/mol", "mmol/mol"),
    )
    b.observation(
        concept(loinc("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma")),
        10,
        value=qty(168, "mg/dL", "mg/dL"),
    )
    for code, name, value in (
        ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", 231),
        ("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", 148),
        ("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", 38),
        ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", 226),
    ):
        b.observation(concept(loinc(code, name)), 10, value=qty(value, "mg/dL", "mg/dL"))
    b.observation(
        concept(loinc("29463-7", "Body weight")),
        10,
        category="vital-signs",
        value=qty(231, "lb", "[lb_av]"),
    )
    b.observation(
        concept(loinc("8302-2", "Body height")),
        10,
        category="vital-signs",
        value=qty(70, "in", "[in_i]"),
    )
    b.blood_pressure(152, 94, 10)
    b.medication(concept(text="Ozempic 0.5 mg/dose subcutaneous pen"))
    b.medication(atc("A10BD20", "metformin and empagliflozin", "Synjardy 12.5/1000 mg"))
    b.medication(rx("52175", "losartan", "losartan potassium 50 MG Oral Tablet"))
    _photos(b, photos, 10, doc=True)


def chinese_record(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0006", "王", "建国", "male", f"{b.as_of.year - 58}-12-08", lang="zh-CN")
    b.condition(
        concept(coding(ICD10, "E11.3", "2型糖尿病伴有眼的并发症"), text="2型糖尿病"), onset="2012"
    )
    b.condition(
        concept(coding(ICD10, "H36.0", "糖尿病性视网膜病"), text="糖尿病视网膜病变"),
        onset="2021-07",
    )
    b.condition(concept(text="高血压"), onset="2015")
    b.observation(
        concept(loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"), text="糖化血红蛋白"),
        28,
        value=qty(8.6, "%"),
    )
    b.observation(
        concept(
            loinc("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma"), text="空腹血糖"
        ),
        28,
        value=qty(9.2, "mmol/L"),
    )
    b.observation(
        concept(loinc("14647-2", "Cholesterol [Moles/volume] in Serum or Plasma"), text="总胆固醇"),
        28,
        value=qty(5.6, "mmol/L"),
    )
    b.observation(
        concept(loinc("22748-8", "Cholesterol in LDL [Moles/volume]"), text="低密度脂蛋白胆固醇"),
        28,
        value=qty(3.4, "mmol/L"),
    )
    b.observation(
        concept(
            loinc("14927-8", "Triglyceride [Moles/volume] in Serum or Plasma"), text="甘油三酯"
        ),
        28,
        value=qty(2.1, "mmol/L"),
    )
    b.observation(
        concept(loinc("32294-1", "Albumin/Creatinine [Ratio] in Urine"), text="尿白蛋白/肌酐比值"),
        28,
        value=qty(3.4, "mg/mmol"),
    )
    b.observation(
        concept(loinc("2324-2", "Gamma glutamyl transferase [Enzymatic activity/volume]")),
        28,
        value=qty(0.9, "µkat/L"),
    )
    b.blood_pressure(146, 92, 28)
    for name in (
        "二甲双胍缓释片 0.5g",
        "阿卡波糖片 50mg",
        "磷酸西格列汀片 100mg",
        "阿托伐他汀钙片 20mg",
        "缬沙坦胶囊 80mg",
    ):
        b.medication(concept(text=name), kind="MedicationStatement", days_ago=120)
    _photos(b, photos, 28, doc=False)


def missing_labs(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0007", "Nguyen", "Thi Mai", "female", f"{b.as_of.year - 45}-05-17")
    b.condition(
        concept(coding(ICD10CM, "E11.9", "Type 2 diabetes mellitus without complications")),
        recorded_days_ago=120,
    )
    b.observation(
        concept(loinc("29463-7", "Body weight")),
        30,
        category="vital-signs",
        value=qty(74, "kg", "kg"),
    )
    b.observation(
        concept(loinc("8302-2", "Body height")),
        3 * 365,
        category="vital-signs",
        value=qty(158, "cm", "cm"),
    )
    if photos and "left" in photos:
        b.photo(photos["left"], 30, as_document=False)


def messy(b: RecordBuilder, photos: dict[str, Photo] | None) -> None:
    b.patient("DEMO-0008", "Silva", "Rafael", "male", f"{b.as_of.year - 61}-02-27")
    b.condition(
        concept(
            snomed("44054006", "Type 2 diabetes mellitus"),
            coding(ICD10CM, "E11.9", "Type 2 diabetes mellitus without complications"),
            coding("urn:oid:1.2.840.114350.1.13.0.1.7.2.728286", "1234", "DM2 local code"),
        ),
        onset="2014-10-01",
    )
    # Refuted hypertension: must not count.
    b.condition(
        concept(snomed("38341003", "Hypertensive disorder")),
        verification="refuted",
        clinical=None,
    )
    b.condition(
        concept(
            snomed("11687002", "Gestational diabetes mellitus"),
            text="GDM (spouse's record merged in error)",
        ),
        verification="entered-in-error",
        clinical=None,
    )
    hba1c = concept(
        loinc("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood"),
        coding("urn:oid:1.2.840.114350.1.13.0.1.7.5.737384.14", "A1C", "HGB A1C"),
    )
    b.observation(hba1c, 80, value=qty(7.2, "%", "%"))
    b.observation(hba1c, 5, value=qty(17.5, "%", "%"), status="entered-in-error")
    b.observation(
        concept(loinc("1558-6", "Fasting glucose [Mass/volume] in Serum or Plasma")),
        5,
        value=qty(131, "mg/dl/h"),  # unknown unit: dropped with a warning
    )
    b.observation(
        concept(loinc("9318-7", "Albumin/Creatinine [Mass Ratio] in Urine")),
        5,
        value_string="<3 mg/mmol",
    )
    b.observation(
        concept(loinc("98979-8", "Glomerular filtration rate/1.73 sq M.predicted (CKD-EPI 2021)")),
        5,
        value_string=">90",
    )
    b.observation(
        concept(loinc("13457-7", "Cholesterol in LDL [Mass/volume] by calculation")),
        200,
        value=qty(131, "mg/dL", "mg/dL"),
    )
    b.observation(
        concept(loinc("18262-6", "Cholesterol in LDL [Mass/volume] by Direct assay")),
        5,
        value=qty(2.6, "mmol/L", "mmol/L"),
        timing="effectivePeriod",
    )
    b.blood_pressure(1380, 84, 5)  # typo: systolic dropped as implausible, diastolic kept
    b.observation(
        concept(loinc("8867-4", "Heart rate")),
        5,
        category="vital-signs",
        value=qty(88, "beats/minute"),
        timing="issued",
    )
    statin = b.medication_resource(atc("C10AA07", "rosuvastatin", "Rosuvastatin 10 mg tablet"))
    b.add(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "subject": b.subject,
            "medicationReference": {"reference": statin},
            "authoredOn": b.when(150),
        }
    )
    b.medication(atc("A10BH01", "sitagliptin", "Januvia 100 mg"), contained=True)
    b.medication(atc("A10BB12", "glimepiride", "Glimepiride 2 mg"), status="cancelled")
    b.medication(concept(text="Glyburide 5 mg"), kind="MedicationStatement", status="not-taken")
    if photos:
        if "left" in photos:
            b.photo(photos["left"], 5, as_document=False)
        if "right" in photos:
            b.photo(photos["right"], 5, as_document=True, coded_side=False)


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "type1-young", "young woman, type 1 diabetes on basal-bolus insulin", 0, None, type1_young
    ),
    Scenario(
        "type2-ckd", "type 2 diabetes with CKD 3b, hypertension, known NPDR", 2, None, type2_ckd
    ),
    Scenario("elderly-frail", "84-year-old, heart failure, old MI, CKD 4", 1, None, elderly_frail),
    Scenario("pregnant", "pregnant, pre-existing type 2 diabetes", 1, None, pregnant),
    Scenario("smoker-us-units", "current smoker, US units, IFCC HbA1c", 2, True, smoker_us_units),
    Scenario("chinese-record", "Chinese-language record, SI units, PDR", 4, None, chinese_record),
    Scenario("missing-labs", "new diagnosis, no labs, one eye photographed", 3, None, missing_labs),
    Scenario("messy", "refuted and erroneous entries, odd units, typos", 3, None, messy),
)
