"""The knowledge base: guideline rules as versioned YAML data, validated when loaded.

Files: `knowledge/kb.yaml` (version and sources) and `knowledge/rules_*.yaml` (rules, in
file-name order, then file order; `fired:` may name only an earlier rule). Loading checks
every condition, template placeholder, section, urgency and citation source, and fails
with a `KnowledgeBaseError` naming the file and rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.advice.conditions import Condition, ConditionError, parse_condition
from models.advice.types import Citation, Lang, Section, Urgency
from models.advice.variables import DISPLAY_ONLY, VARIABLES

PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\}")
RULE_ID = re.compile(r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$")


class KnowledgeBaseError(ValueError):
    """The knowledge base files are malformed; the message names file and rule."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SourceSpec(_Strict):
    title: str
    citation: str
    url: str | None = None


class CiteSpec(_Strict):
    source: str
    section: str
    recommendation: str | None = None
    statement: str
    # True when the statement was read in the cited edition's retrieved text; False when it
    # rests on the editors' reading and should be re-checked at the next review.
    verified: bool = False
    # What was read and where, for the reviewer: "Table 13.1 in the 2024 edition (PMC...)",
    # or a secondary source that quotes the statement. Required when `verified` is true.
    checked: str | None = None

    @model_validator(mode="after")
    def _verified_says_where(self) -> CiteSpec:
        if self.verified and not self.checked:
            raise ValueError("a verified citation must say what was read (`checked`)")
        return self


class BilingualText(_Strict):
    en: str = Field(min_length=1)
    zh: str = Field(min_length=1)

    def get(self, lang: Lang) -> str:
        return self.en if lang == Lang.EN else self.zh


class RuleSpec(_Strict):
    id: str
    section: Section
    kind: str = "advice"
    urgency: Urgency = Urgency.ROUTINE
    when: dict[str, Any]
    title: BilingualText
    text: BilingualText
    cite: tuple[CiteSpec, ...] = Field(min_length=1)
    uses: tuple[str, ...] = ()

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not RULE_ID.match(v):
            raise ValueError("rule id must look like AREA-WORDS (upper case, dashes)")
        return v

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        if v not in ("advice", "measure"):
            raise ValueError("kind must be advice or measure")
        return v


class RulesFile(_Strict):
    rules: tuple[RuleSpec, ...]


class KbHeader(_Strict):
    version: str
    sources: dict[str, SourceSpec]


@dataclass(frozen=True)
class Rule:
    spec: RuleSpec
    condition: Condition
    citations: tuple[Citation, ...]
    placeholders: frozenset[str]

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    sources: dict[str, SourceSpec]
    rules: tuple[Rule, ...]

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError(f"{path.name}: not valid YAML ({exc})") from exc


def load_knowledge_base(directory: Path | None = None) -> KnowledgeBase:
    """Load and validate the knowledge base (the packaged one when `directory` is None)."""
    if directory is None:
        return _packaged()
    return _load(directory)


@lru_cache(maxsize=1)
def _packaged() -> KnowledgeBase:
    root = resources.files("models.advice") / "knowledge"
    return _load(Path(str(root)))


def _load(directory: Path) -> KnowledgeBase:
    header_path = directory / "kb.yaml"
    if not header_path.is_file():
        raise KnowledgeBaseError(f"{directory}: no kb.yaml")
    try:
        header = KbHeader.model_validate(_read_yaml(header_path))
    except ValidationError as exc:
        raise KnowledgeBaseError(f"kb.yaml: {_first_error(exc)}") from exc
    rules: list[Rule] = []
    seen: set[str] = set()
    files = sorted(directory.glob("rules_*.yaml"))
    if not files:
        raise KnowledgeBaseError(f"{directory}: no rules_*.yaml files")
    for path in files:
        try:
            parsed = RulesFile.model_validate(_read_yaml(path))
        except ValidationError as exc:
            raise KnowledgeBaseError(f"{path.name}: {_first_error(exc)}") from exc
        for spec in parsed.rules:
            rules.append(_compile(spec, header, seen, path.name))
            seen.add(spec.id)
    return KnowledgeBase(version=header.version, sources=header.sources, rules=tuple(rules))


def _compile(spec: RuleSpec, header: KbHeader, seen: set[str], fname: str) -> Rule:
    where = f"{fname}: {spec.id}"
    if spec.id in seen:
        raise KnowledgeBaseError(f"{where}: duplicate rule id")
    try:
        cond = parse_condition(spec.when, "when")
    except ConditionError as exc:
        raise KnowledgeBaseError(f"{where}: {exc}") from exc
    unknown_refs = cond.rule_refs() - seen
    if unknown_refs:
        raise KnowledgeBaseError(f"{where}: `fired` names no earlier rule: {sorted(unknown_refs)}")
    allowed = set(VARIABLES) | set(DISPLAY_ONLY)
    placeholders: set[str] = set()
    for lang in Lang:
        names = set(PLACEHOLDER.findall(spec.text.get(lang)))
        bad = names - allowed
        if bad:
            raise KnowledgeBaseError(f"{where}: unknown placeholder(s) {sorted(bad)} ({lang})")
        placeholders |= names
    en_names = set(PLACEHOLDER.findall(spec.text.en))
    if en_names != set(PLACEHOLDER.findall(spec.text.zh)):
        raise KnowledgeBaseError(f"{where}: en and zh texts use different placeholders")
    for u in spec.uses:
        if u not in VARIABLES:
            raise KnowledgeBaseError(f"{where}: `uses` names unknown variable {u}")
    cites = []
    for c in spec.cite:
        src = header.sources.get(c.source)
        if src is None:
            raise KnowledgeBaseError(f"{where}: unknown citation source {c.source}")
        cites.append(
            Citation(
                source=c.source,
                source_title=src.title,
                section=c.section,
                recommendation=c.recommendation,
                statement=c.statement,
                verified=c.verified,
            )
        )
    return Rule(
        spec=spec, condition=cond, citations=tuple(cites), placeholders=frozenset(placeholders)
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    return f"{loc}: {err['msg']}"
