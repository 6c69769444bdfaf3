"""`deepdr-fhir advice export-pairs`: the kept (draft, signed) pairs as fine-tuning JSONL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from models.advice.finetune import load_pairs
from plugin.cli.main import main
from plugin.signoff import AdviceOrigin, signoff_pair
from plugin.store.signoff_pairs import SignoffPair
from plugin.store.store import open_store

ORIGIN = AdviceOrigin(
    lang="zh",
    engine="rules",
    model="deepdr-advice-rules@2025.1.0",
    kb_version="2025.1.0",
    draft_texts=("控制血糖。", "转诊眼科。"),
    instruction="系统提示",
    input="患者信息: {年龄:60}",
)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/pairs.sqlite3"
    clock = Clock()
    with open_store(url, clock=clock) as store:
        store.signoff_pairs.add(signoff_pair("p-old", ORIGIN, ("控制血糖。", ""), "h1"))
        clock.now += timedelta(days=10)
        store.signoff_pairs.add(
            signoff_pair("p-new", ORIGIN, ("控制血糖，目标7%。", "转诊眼科。"), "h2")
        )
        # Stored without a prompt (by hand or an older version): not exportable.
        store.signoff_pairs.add(
            SignoffPair(
                pair_id="p-bare", lang="en", engine="rules", model="m", draft="d", signed="s"
            )
        )
    return url


def test_exports_fine_tuning_records(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pairs.jsonl"
    assert main(["advice", "export-pairs", "--store", store_url, "--out", str(out)]) == 0
    assert "2 pairs ->" in capsys.readouterr().err
    records = load_pairs(out)  # what `advice finetune` reads
    assert [r.id for r in records] == ["p-old", "p-new"]
    old = records[0]
    assert (old.source, old.lang, old.instruction, old.input) == (
        "clinician_edit",
        "zh",
        "系统提示",
        ORIGIN.input,
    )
    assert old.output == "[1] 控制血糖。"  # the removed item is left out
    assert old.meta["draft"] == "[1] 控制血糖。\n[2] 转诊眼科。"
    assert old.meta["patient"] == "h1" and old.meta["removed_items"] == 1


def test_since_filters_and_stdout(store_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advice", "export-pairs", "--store", store_url, "--since", "2025-03-05"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["p-new"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--since", "last week"], "expected YYYY-MM-DD"),
        (["--out", "/nonexistent-dir/x.jsonl"], "cannot write"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    store_url: str, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["advice", "export-pairs", "--store", store_url, *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
