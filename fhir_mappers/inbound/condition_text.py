"""Condition display text -> tags, for codes no table holds (English and Chinese).

Conservative: a label that reads like a screening, a family history, a risk or a negation
("no retinopathy", "without CKD") gives nothing.
"""

from __future__ import annotations

import re

_NOT_A_DIAGNOSIS = re.compile(
    r"family history|\bfh\b|screening|monitoring|\breview\b|education|invitation|referral"
    r"|examination|\bexam\b|\btest\b|at risk|risk of|suspected|rule out|\br/o\b"
    r"|pre-?diabet|impaired (?:glucose|fasting)|insulin resistance|borderline|insipidus"
    r"|\((?:procedure|regime/therapy|observable entity)\)"
)
_NEGATION_BEFORE = re.compile(
    r"(?:\bno|\bwithout|\bnegative for|\bnot|\bfree of|无|未见)\W+(?:\w+\W+){0,3}$"
)
_NEGATION_AFTER = re.compile(r"^\W*(?:absent|not present|negative|ruled out|excluded)")
_DIABETES = re.compile(r"diabet|\bt[12]dm\b|\bn?iddm\b|\bdm\s*(?:type\s*)?[12]\b|糖尿病")
_TYPE1 = re.compile(
    r"type\s*(?:1|i)\b|\bt1dm\b|\biddm\b|(?<!non-)(?<!non )insulin[- ]dependent|juvenile|1型"
)
_TYPE2 = re.compile(
    r"type\s*(?:2|ii)\b|\bt2dm\b|\bniddm\b|non[- ]insulin[- ]dependent|adult[- ]onset|2型"
)
_GESTATIONAL = re.compile(r"gestational|妊娠(?:期)?糖尿病")
_OTHER_TYPE = re.compile(
    r"secondary|drug[- ]induced|steroid|\bmody\b|young|pancrea|cystic fibrosis"
)
_DR = re.compile(r"retinopath|\bn?pdr\b|视网膜病变")
_DME = re.compile(r"macular (?:o?edema)|maculopathy|\bc?s?dme\b|\bcsme\b|黄斑水肿")
_CKD = re.compile(
    r"chronic kidney|\bckd\b|chronic renal (?:failure|insufficiency|disease)|end[- ]stage renal"
    r"|end[- ]stage kidney|\besrd\b|\beskd\b|(?:diabetic|diabetes) (?:nephropathy|kidney)"
    r"|慢性肾|糖尿病肾病"
)
_CKD_STAGE = re.compile(r"(?:stage|\bg)\s*(3a|3b|[1-5])\b|ckd\s*(3a|3b|[1-5])\b|(3a|3b|[1-5])\s*期")
_HTN = re.compile(r"hypertensi|高血压")
_NOT_HTN = re.compile(r"pulmonary|ocular|intracranial|portal|white coat")
_HF = re.compile(r"heart failure|cardiac failure|\bhfref\b|\bhfpef\b|\bchf\b|心力衰竭|心衰")
_ASCVD = re.compile(
    r"myocardial infarct|\bn?stemi\b|coronary (?:artery|heart) disease|coronary arterioscl"
    r"|coronary atheroscl|\bcad\b|isch(?:a)?emic heart|angina|acute coronary|cerebral infarct"
    r"|isch(?:a)?emic stroke|\bstroke\b|cerebrovascular accident|\bcva\b|transient isch"
    r"|\btia\b|peripheral arter|peripheral vascular disease|\bpad\b"
    r"|心肌梗死|冠心病|冠状动脉粥样硬化|脑梗死|缺血性脑卒中|外周动脉疾病"
)
_NOT_ASCVD = re.compile(r"ha?emorrhag")
_PREGNANCY = re.compile(r"pregnan|gravid|妊娠")
_NOT_PREGNANCY = re.compile(
    r"not pregnant|non-?pregnant|history of|previous|post-?partum|puerper|ectopic|abortion"
    r"|miscarriage|termination|test"
)


def _says(pattern: re.Pattern[str], s: str) -> bool:
    """The label mentions the pattern, and not as "no X" / "without X" / "X absent"."""
    for m in pattern.finditer(s):
        before = re.split(r"[,;|(]", s[: m.start()])[-1]
        if not _NEGATION_BEFORE.search(before) and not _NEGATION_AFTER.search(s[m.end() :]):
            return True
    return False


def text_tags(label: str) -> set[str]:
    """Tags from a display/text, for codes our tables do not hold. Conservative: a label
    that reads like a screening, a family history or a negation gives nothing."""
    s = label.lower()
    if not s or _NOT_A_DIAGNOSIS.search(s):
        return set()
    tags: set[str] = set()
    diabetic = _says(_DIABETES, s)
    if diabetic:
        if _GESTATIONAL.search(s):
            tags |= {"diabetes:gestational", "pregnancy"}
        elif _TYPE2.search(s):
            tags.add("diabetes:type2")
        elif _TYPE1.search(s):
            tags.add("diabetes:type1")
        elif _OTHER_TYPE.search(s):
            tags.add("diabetes:other")
        else:
            tags.add("diabetes")
    if _says(_DR, s) and (diabetic or re.search(r"proliferat|pdr", s)):
        tags.add("dr")
    if _says(_DME, s) and (diabetic or re.search(r"dme|csme", s)):
        tags.add("dme")
    if _says(_CKD, s):
        m = _CKD_STAGE.search(s)
        stage = next((g for g in m.groups() if g), None) if m else None
        if re.search(r"end[- ]stage|\besrd\b|\beskd\b", s):
            stage = "5"
        tags.add(f"ckd:{stage}" if stage else "ckd")
    if _says(_HTN, s) and not _NOT_HTN.search(s):
        tags.add("htn")
    if _says(_HF, s):
        tags.add("hf")
    if _says(_ASCVD, s) and not _NOT_ASCVD.search(s):
        tags.add("ascvd")
    if _says(_PREGNANCY, s) and not _NOT_PREGNANCY.search(s):
        tags.add("pregnancy")
    return tags
