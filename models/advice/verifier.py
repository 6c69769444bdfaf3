"""Keeps the language model honest: parse its tagged rewrite back into items, check each
against the rule it rewrites, and fall back to the rule's own text where it fails.

Checks per item (the rule's own text in the same language is the reference):
- present: the item's tag [n] is in the output with some text;
- numbers: every number of the rule text is kept, and no other number appears (a different
  HbA1c target, "rescreen in 3 years", a dose);
- time units: no day/week/month/year word the rule text does not use (1–2 years -> months);
- drugs: no drug or drug class the rule text does not name;
- stopping: no "stop / discontinue / 停用" unless the rule text says so ("stop the statin");
- language: the text is in the draft's language.
Lines without a tag are dropped (they are not rule content) and noted.
If more than half of the items fail, the whole draft falls back to the rules' text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from models.advice.types import AdviceDraft, AdviceItem, Engine, ItemOrigin, Lang

_TAG = re.compile(r"^\s*(?:[-*]\s*)?[\[【](\d+)[\]】]\s*[:：.、-]?\s*(.*)$")
_NUMBER = re.compile(r"(?<![A-Za-z])\d+(?:[.,]\d+)*")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")

_TIME_UNITS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("day", re.compile(r"\bdays?\b|daily|a day|天|日", re.I)),
    ("week", re.compile(r"\bweeks?\b|weekly|周|星期", re.I)),
    ("month", re.compile(r"\bmonths?\b|monthly|个月|月", re.I)),
    ("year", re.compile(r"\byears?\b|yearly|annual|年", re.I)),
)

# Drug / drug-class lexicon: canonical name -> pattern over English and Chinese text.
DRUG_PATTERNS: dict[str, re.Pattern[str]] = {
    "metformin": re.compile(r"metformin|二甲双胍", re.I),
    "insulin": re.compile(r"(?<!non-)insulin(?! pump)|胰岛素(?!泵)", re.I),
    "sglt2i": re.compile(r"SGLT-?2|gliflozin|列净", re.I),
    "glp1ra": re.compile(r"GLP-?1|glutide|鲁肽", re.I),
    "gip": re.compile(r"\bGIP\b|tirzepatide|替尔泊肽", re.I),
    "dpp4i": re.compile(r"DPP-?4|gliptin|列汀", re.I),
    "sulfonylurea": re.compile(
        r"sulfonylurea|sulphonylurea|glyburide|glibenclamide|glipizide|glimepiride|gliclazide"
        r"|磺脲|格列本脲|格列美脲|格列齐特|格列吡嗪",
        re.I,
    ),
    "glinide": re.compile(r"glinide|repaglinide|nateglinide|格列奈", re.I),
    "tzd": re.compile(r"thiazolidinedione|glitazone|噻唑烷二酮|格列酮", re.I),
    "agi": re.compile(r"acarbose|alpha-glucosidase|阿卡波糖|糖苷酶", re.I),
    "statin": re.compile(r"statin|他汀", re.I),
    "ezetimibe": re.compile(r"ezetimibe|依折麦布", re.I),
    "pcsk9i": re.compile(r"PCSK9", re.I),
    "fibrate": re.compile(r"fibrate|贝特", re.I),
    "acei": re.compile(r"ACE inhibitor|\bACEI?s?\b|\w+pril\b|普利", re.I),
    "arb": re.compile(r"\bARBs?\b|sartan|沙坦|angiotensin receptor blocker"),
    "arni": re.compile(r"sacubitril|沙库巴曲", re.I),
    "mra": re.compile(r"mineralocorticoid|spironolactone|eplerenone|螺内酯|盐皮质激素", re.I),
    "finerenone": re.compile(r"finerenone|非奈利酮", re.I),
    "diuretic": re.compile(r"diuretic|thiazide|furosemide|利尿剂", re.I),
    "beta_blocker": re.compile(r"beta[- ]blocker|β[- ]?blocker|\w+olol\b|洛尔", re.I),
    "ccb": re.compile(r"calcium channel|amlodipine|\w+dipine\b|地平", re.I),
    "aspirin": re.compile(r"aspirin|阿司匹林", re.I),
    "clopidogrel": re.compile(r"clopidogrel|氯吡格雷", re.I),
    "anticoagulant": re.compile(r"warfarin|apixaban|rivaroxaban|dabigatran|华法林|沙班", re.I),
    "glucagon": re.compile(r"glucagon(?!-like)|胰高血糖素(?!样)", re.I),
    "b12": re.compile(r"vitamin B12|维生素B12", re.I),
}
_STOP = re.compile(
    r"\b(stop|stopping|discontinue|discontinuing|cease|halt|withdraw|quit)\b|停用|停止|停药|停掉|不要再?服用",
    re.I,
)


@dataclass(frozen=True)
class ParsedOutput:
    items: dict[int, str]
    untagged: tuple[str, ...]


def parse_tagged(text: str) -> ParsedOutput:
    items: dict[int, str] = {}
    untagged: list[str] = []
    current: int | None = None
    for line in text.splitlines():
        m = _TAG.match(line)
        if m:
            current = int(m.group(1))
            body = m.group(2).strip()
            items[current] = (items.get(current, "") + " " + body).strip()
        elif line.strip():
            if current is not None and not items.get(current):
                items[current] = line.strip()
            else:
                untagged.append(line.strip())
    return ParsedOutput(items=items, untagged=tuple(untagged))


def numbers(text: str) -> frozenset[str]:
    """Numbers in canonical form: '2,300' -> '2300', '7.0' -> '7', '1.73' -> '1.73'."""
    out = set()
    for raw in _NUMBER.findall(text):
        s = (
            raw.replace(",", "")
            if re.fullmatch(r"\d{1,3}(,\d{3})+", raw)
            else raw.replace(",", ".")
        )
        try:
            out.add(f"{float(s):g}")
        except ValueError:
            continue
    return frozenset(out)


def drugs(text: str) -> frozenset[str]:
    return frozenset(name for name, pat in DRUG_PATTERNS.items() if pat.search(text))


def time_units(text: str) -> frozenset[str]:
    return frozenset(name for name, pat in _TIME_UNITS if pat.search(text))


def language_ok(text: str, reference: str, lang: Lang) -> bool:
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if lang == Lang.EN:
        return cjk == 0 and latin > 0
    ref_cjk = len(_CJK.findall(reference))
    ref_ratio = ref_cjk / max(1, ref_cjk + len(_LATIN.findall(reference)))
    ratio = cjk / max(1, cjk + latin)
    return cjk > 0 and ratio >= 0.5 * ref_ratio


def check_item(rewrite: str, rule_text: str, lang: Lang) -> list[str]:
    """Reasons the rewrite contradicts or loses the rule's content (empty list: accepted)."""
    problems: list[str] = []
    want, got = numbers(rule_text), numbers(rewrite)
    if want - got:
        problems.append(f"numbers dropped or changed: {', '.join(sorted(want - got))}")
    if got - want:
        problems.append(f"numbers not in the rule: {', '.join(sorted(got - want))}")
    extra_units = time_units(rewrite) - time_units(rule_text)
    if extra_units:
        problems.append(f"time units not in the rule: {', '.join(sorted(extra_units))}")
    extra_drugs = drugs(rewrite) - drugs(rule_text)
    if extra_drugs:
        problems.append(f"drugs not in the rule: {', '.join(sorted(extra_drugs))}")
    if _STOP.search(rewrite) and not _STOP.search(rule_text):
        problems.append("says to stop something the rule does not")
    if not language_ok(rewrite, rule_text, lang):
        problems.append(f"not in the requested language ({lang.value})")
    return problems


def verify_rewrite(draft: AdviceDraft, output: str, model_name: str) -> AdviceDraft:
    """The draft with each item's text from the model where it passed, else the rule's."""
    parsed = parse_tagged(output)
    checked: list[tuple[AdviceItem, list[str], str | None]] = []
    for n, item in enumerate(draft.items, start=1):
        rewrite = parsed.items.get(n)
        if not rewrite:
            checked.append((item, ["missing from the model's output"], None))
        else:
            checked.append((item, check_item(rewrite, item.rule_text, draft.lang), rewrite))
    notes: list[str] = []
    extra_tags = sorted(set(parsed.items) - set(range(1, len(draft.items) + 1)))
    if extra_tags:
        notes.append(f"dropped {len(extra_tags)} item(s) the rules did not produce")
    if parsed.untagged:
        notes.append(f"dropped {len(parsed.untagged)} untagged line(s)")
    failed = sum(1 for _, problems, _ in checked if problems)
    fall_back_all = bool(draft.items) and failed * 2 > len(draft.items)
    if fall_back_all:
        notes.append(f"{failed} of {len(draft.items)} items failed: using the rules' text for all")
    items: list[AdviceItem] = []
    for item, problems, rewrite in checked:
        if problems or fall_back_all or rewrite is None:
            items.append(
                item.model_copy(
                    update={
                        "text": item.rule_text,
                        "origin": ItemOrigin.FALLBACK,
                        "verifier_notes": tuple(problems) or ("whole draft fell back",),
                    }
                )
            )
        else:
            items.append(item.model_copy(update={"text": rewrite, "origin": ItemOrigin.LLM}))
    return draft.model_copy(
        update={
            "items": tuple(items),
            "engine": Engine.LLM,
            "model": model_name,
            "verifier_notes": tuple(notes),
        }
    )
