"""The README's Advice section names the knowledge base the code loads: its version and its
rule count (they change together with the YAML, and the README was once left behind)."""

from __future__ import annotations

import re
from pathlib import Path

from models.advice.kb import load_knowledge_base

README = Path(__file__).resolve().parents[3] / "README.md"
_KB_LINE = re.compile(r"\*\*Knowledge base\*\*.*?version (\S+?), .*?(\d+) rules", re.S)


def test_readme_states_the_loaded_kb_version_and_rule_count() -> None:
    kb = load_knowledge_base()
    match = _KB_LINE.search(README.read_text(encoding="utf-8"))
    assert match is not None, "README: no '**Knowledge base** ... version X, ... N rules'"
    assert match.group(1) == kb.version
    assert int(match.group(2)) == len(kb.rules)
