"""Prompt builder: facts + grading (+ the rules' draft) -> text for a language model.

Two patient descriptions:
- `describe_patient`: readable lines, with the grader's probabilities turned into graded
  phrases as ChatCAD does (its "Prompt #2": four bands of the score; Wang et al. 2023,
  arXiv:2302.07257) so a language model reads "likely moderate NPDR", not a tensor.
- `deepdr_input`: DeepDR-LLM's published input format (Li et al., Nat Med 2024; the
  repository's Module1 example): one `{key:value, ...}` record with vital signs, history,
  labs, then `DR分级` / `DME分级` (here also image quality and lesion presence).

`rewrite_messages` asks the model to rewrite the rules' items, one tagged line per item
("[3] ..."), changing no number, drug, target or interval; the verifier parses the tags.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.advice.types import AdviceContext, AdviceDraft, Lang
from models.clinical_facts import CANONICAL_UNITS, ClinicalFacts
from models.grader.result import ICDR_LABELS, LESION_KEYS, ImageGrading, PatientGrading

# ChatCAD's four bands of a probability, lower bound inclusive.
PROBABILITY_BANDS: tuple[tuple[float, dict[Lang, str]], ...] = (
    (0.9, {Lang.EN: "very likely", Lang.ZH: "很可能"}),
    (0.5, {Lang.EN: "likely", Lang.ZH: "可能"}),
    (0.2, {Lang.EN: "possibly", Lang.ZH: "有较小可能"}),
    (0.0, {Lang.EN: "unlikely", Lang.ZH: "不太可能"}),
)

ICDR_ZH: tuple[str, ...] = (
    "无明显视网膜病变",
    "轻度非增殖期视网膜病变",
    "中度非增殖期视网膜病变",
    "重度非增殖期视网膜病变",
    "增殖期视网膜病变",
)
LESION_NAMES: dict[str, dict[Lang, str]] = {
    "MA": {Lang.EN: "microaneurysms", Lang.ZH: "微动脉瘤"},
    "HE": {Lang.EN: "haemorrhages", Lang.ZH: "出血"},
    "EX": {Lang.EN: "hard exudates", Lang.ZH: "硬性渗出"},
    "SE": {Lang.EN: "cotton-wool spots", Lang.ZH: "棉絮斑"},
}
EYE_NAMES: dict[str, dict[Lang, str]] = {
    "right": {Lang.EN: "right eye", Lang.ZH: "右眼"},
    "left": {Lang.EN: "left eye", Lang.ZH: "左眼"},
    "unknown": {Lang.EN: "eye (side unknown)", Lang.ZH: "未知侧眼"},
}


def probability_phrase(p: float, lang: Lang) -> str:
    for lower, words in PROBABILITY_BANDS:
        if p >= lower:
            return words[lang]
    return PROBABILITY_BANDS[-1][1][lang]


def describe_image(img: ImageGrading, lang: Lang) -> str:
    en = lang == Lang.EN
    if img.error is not None:
        return "image could not be read" if en else "图像无法读取"
    if img.quality is not None and not img.quality.gradable:
        return "image quality insufficient for grading" if en else "图像质量不足以分级"
    parts: list[str] = []
    if img.dr_grade is not None:
        g = img.dr_grade.grade
        label = ICDR_LABELS[g] if en else ICDR_ZH[g]
        parts.append(f"{probability_phrase(img.dr_grade.probabilities[g], lang)} {label}")
    if img.referable is not None:
        word = "referable DR" if en else "需转诊的视网膜病变"
        parts.append(f"{probability_phrase(img.referable.probability, lang)} {word}")
    if img.dme is not None:
        word = "macular oedema" if en else "黄斑水肿"
        parts.append(f"{probability_phrase(img.dme.probability, lang)} {word}")
    for key in LESION_KEYS:
        lesion = img.lesions.get(key)
        if lesion is not None:
            parts.append(
                f"{probability_phrase(lesion.probability, lang)} {LESION_NAMES[key][lang]}"
            )
    return ("; " if en else "；").join(parts) or ("no findings reported" if en else "无结果")


def describe_grading(grading: PatientGrading | None, lang: Lang) -> list[str]:
    if grading is None:
        return ["Fundus images: not graded" if lang == Lang.EN else "眼底图像：未分级"]
    lines = []
    for eye in grading.eyes:
        name = EYE_NAMES[eye.laterality.value][lang]
        img = eye.decisive
        if img is None:
            text = "no gradable image" if lang == Lang.EN else "无可分级图像"
        else:
            text = describe_image(img, lang)
        lines.append(f"{name}: {text}")
    return lines


_FACT_LABELS: dict[str, tuple[str, str]] = {
    "hba1c": ("HbA1c", "糖化血红蛋白"),
    "fasting_glucose": ("Fasting glucose", "空腹血糖"),
    "sbp": ("Systolic BP", "收缩压"),
    "dbp": ("Diastolic BP", "舒张压"),
    "heart_rate": ("Heart rate", "心率"),
    "bmi": ("BMI", "BMI"),
    "weight": ("Weight", "体重"),
    "height": ("Height", "身高"),
    "total_cholesterol": ("Total cholesterol", "总胆固醇"),
    "ldl": ("LDL-C", "低密度脂蛋白"),
    "hdl": ("HDL-C", "高密度脂蛋白"),
    "triglycerides": ("Triglycerides", "血清甘油三酯"),
    "egfr": ("eGFR", "eGFR"),
    "uacr": ("UACR", "ACR"),
    "alt": ("ALT", "谷丙转氨酶"),
    "ast": ("AST", "谷草转氨酶"),
    "ggt": ("GGT", "γ-谷氨酰转移酶"),
}
_UNIT_SHOWN: dict[str, str] = {"mm[Hg]": "mmHg", "mL/min/{1.73_m2}": "mL/min/1.73m2", "/min": "bpm"}


@dataclass(frozen=True)
class _Pair:
    key: str
    value: str


def _pairs(facts: ClinicalFacts, context: AdviceContext | None, lang: Lang) -> list[_Pair]:
    en = lang == Lang.EN
    out: list[_Pair] = []
    sex = {"male": ("male", "男"), "female": ("female", "女")}.get(facts.sex.value)
    if sex:
        out.append(_Pair("Sex" if en else "性别", sex[0] if en else sex[1]))
    if facts.age_years is not None:
        out.append(_Pair("Age" if en else "年龄", str(facts.age_years)))
    if facts.diabetes is not None:
        d = facts.diabetes
        dur = f", {d.duration_years:g} years" if d.duration_years is not None else ""
        dur_zh = f"，病程{d.duration_years:g}年" if d.duration_years is not None else ""
        out.append(
            _Pair(
                "Diabetes" if en else "糖尿病",
                f"{d.type.value}{dur}" if en else f"{d.type.value}{dur_zh}",
            )
        )
    for name, (en_label, zh_label) in (
        ("hypertension", ("Hypertension", "高血压")),
        ("ckd", ("Chronic kidney disease", "慢性肾脏病")),
        ("ascvd", ("ASCVD", "动脉粥样硬化性心血管疾病")),
        ("heart_failure", ("Heart failure", "心力衰竭")),
        ("prior_dr", ("Prior diabetic retinopathy", "既往糖尿病视网膜病变")),
        ("pregnancy", ("Pregnant", "妊娠")),
    ):
        c = getattr(facts, name)
        if c is not None:
            yes_no = ("yes" if c.present else "no") if en else ("是" if c.present else "否")
            out.append(_Pair(en_label if en else zh_label, yes_no))
    if facts.smoking is not None:
        out.append(_Pair("Smoking" if en else "吸烟", facts.smoking.status.value))
    alcohol = (context.alcohol if context is not None else None) or (
        facts.alcohol.use if facts.alcohol is not None else None
    )
    if alcohol is not None and alcohol.value != "unknown":
        out.append(_Pair("Alcohol" if en else "饮酒", alcohol.value))
    frail = (context.frail if context is not None else None) or (
        facts.frailty is not None and facts.frailty.present
    )
    if frail:
        out.append(_Pair("Frailty" if en else "衰弱", "yes" if en else "是"))
    for name in CANONICAL_UNITS:
        m = facts.measurements.get(name)
        if m is None or name not in _FACT_LABELS:
            continue
        label = _FACT_LABELS[name][0 if en else 1]
        unit = _UNIT_SHOWN.get(m.unit, m.unit)
        out.append(_Pair(label, f"{m.value:g}{unit}"))
    if facts.medications:
        meds = ", ".join(sorted({m.name for m in facts.medications}))
        out.append(_Pair("Medications" if en else "用药", meds))
    return out


def describe_patient(
    facts: ClinicalFacts,
    grading: PatientGrading | None,
    context: AdviceContext | None,
    lang: Lang,
) -> str:
    lines = [f"{p.key}: {p.value}" for p in _pairs(facts, context, lang)]
    return "\n".join(lines + describe_grading(grading, lang))


def _dr_grade_of(grading: PatientGrading | None) -> tuple[str, str, str, str]:
    """(DR grade, DME grade, image quality, lesions) over the worst gradable eye."""
    if grading is None:
        return ("unknown", "unknown", "unknown", "unknown")
    worst: ImageGrading | None = None
    for eye in grading.eyes:
        img = eye.decisive
        if img is None or img.dr_grade is None:
            continue
        if worst is None or (worst.dr_grade and img.dr_grade.grade > worst.dr_grade.grade):
            worst = img
    gradable = sum(1 for e in grading.eyes if e.decisive is not None)
    quality = f"{gradable}/{len(grading.eyes)} gradable"
    if worst is None or worst.dr_grade is None:
        return ("unknown", "unknown", quality, "unknown")
    dme = "unknown" if worst.dme is None else ("1" if worst.dme.positive else "0")
    lesions = ",".join(k for k in LESION_KEYS if k in worst.lesions and worst.lesions[k].present)
    return (str(worst.dr_grade.grade), dme, quality, lesions or "none")


DEEPDR_INSTRUCTION: dict[Lang, str] = {
    Lang.ZH: "你是一个专业的医生，请基于诊疗指南，为以下糖尿病患者提供综合的管理意见:",
    Lang.EN: (
        "You are a professional physician. Based on clinical guidelines, provide "
        "comprehensive management advice for the following patient with diabetes:"
    ),
}


def deepdr_input(
    facts: ClinicalFacts,
    grading: PatientGrading | None,
    context: AdviceContext | None,
    lang: Lang,
) -> str:
    """DeepDR-LLM's input record: `{key:value, ..., DR分级:N；DME分级:N}`."""
    pairs = [f"{p.key}:{p.value}" for p in _pairs(facts, context, lang)]
    dr, dme, quality, lesions = _dr_grade_of(grading)
    if lang == Lang.ZH:
        tail = f"图像质量:{quality}；病灶:{lesions}；DR分级:{dr}；DME分级:{dme}"
    else:
        tail = f"image quality:{quality}; lesions:{lesions}; DR grade:{dr}; DME grade:{dme}"
    return "{" + ", ".join([*pairs, tail]) + "}"


SYSTEM_PROMPT: dict[Lang, str] = {
    Lang.EN: (
        "You are a diabetes care assistant. Rewrite each numbered recommendation in plain, "
        "friendly English for this patient. Output exactly one line per recommendation, "
        "starting with its tag, e.g. [1]. Keep every number, unit, drug, target and interval "
        "exactly as given. Do not add any drug, dose, target, interval or advice that is not "
        "in the list. Do not stop or change any medicine unless the recommendation says so."
    ),
    Lang.ZH: (
        "你是糖尿病管理助手。请用通俗、亲切的中文改写下面每一条编号建议。每条建议输出一行，"
        "以其编号开头，例如[1]。所有数字、单位、药物、目标值和时间间隔必须与原文完全一致。"
        "不得添加清单之外的任何药物、剂量、目标值、间隔或建议；除非原文要求，不得停用或更改任何药物。"
    ),
}


def rewrite_messages(
    draft: AdviceDraft,
    facts: ClinicalFacts,
    grading: PatientGrading | None,
    context: AdviceContext | None,
) -> list[dict[str, str]]:
    """Chat messages asking for the tagged rewrite of the draft's items."""
    lang = draft.lang
    head = "Patient" if lang == Lang.EN else "患者信息"
    recs = "Recommendations" if lang == Lang.EN else "建议"
    items = "\n".join(f"[{n}] {item.rule_text}" for n, item in enumerate(draft.items, start=1))
    user = (
        f"{head}: {deepdr_input(facts, grading, context, lang)}\n"
        f"{describe_patient(facts, grading, context, lang)}\n\n{recs}:\n{items}"
    )
    return [
        {"role": "system", "content": SYSTEM_PROMPT[lang]},
        {"role": "user", "content": user},
    ]


def tagged_rules_text(draft: AdviceDraft) -> str:
    """The rules' own text in the tagged output format (the fine-tuning target)."""
    return "\n".join(f"[{n}] {item.rule_text}" for n, item in enumerate(draft.items, start=1))
