"""`deepdr-fhir advice evaluate | make-pairs | finetune` (CLI level; the CPU smoke
fine-tune of the 135M model is marked slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plugin.cli.main import main

CASES = Path(__file__).resolve().parents[3] / "models" / "advice" / "eval" / "cases.jsonl"


def test_evaluate_rules_both_languages(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advice", "evaluate", str(CASES), "--json"]) == 0
    reports = json.loads(capsys.readouterr().out)
    assert [(r["engine"], r["lang"]) for r in reports] == [("rules", "en"), ("rules", "zh")]
    for r in reports:
        assert r["cases"] >= 40
        assert r["no_missing_content_pct"] == 100.0, r["failures"]
        assert r["no_inappropriate_content_pct"] == 100.0, r["failures"]


def test_evaluate_reports_failures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = json.loads(CASES.read_text(encoding="utf-8").splitlines()[0])
    case["must_include"] = ["EYE-REFER-URGENT-PDR"]
    case["must_not_include"] = ["GLY-GOAL-ADULT", "re.zh:胰岛素"]
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(case) + "\n", encoding="utf-8")
    assert main(["advice", "evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "FAIL rules/en t1-young-well: missing=['EYE-REFER-URGENT-PDR']" in out
    assert "inappropriate=['GLY-GOAL-ADULT', 're.zh:胰岛素']" in out  # zh only


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "not valid JSON"),
        ('{"id": "x", "facts": {}}', "facts"),
        (
            '{"id": "x", "facts": {"patient_ref": "Patient/1", "as_of": "2025-01-01"}, '
            '"must_include": ["lower-case"]}',
            "neither a rule id",
        ),
    ],
)
def test_bad_cases_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str, message: str
) -> None:
    path = tmp_path / "cases.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    assert main(["advice", "evaluate", str(path)]) == 2
    assert message in capsys.readouterr().err


def test_make_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "pairs.jsonl"
    assert main(["advice", "make-pairs", str(CASES), str(out), "--lang", "zh"]) == 0
    pairs = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(pairs) >= 40
    first = pairs[0]
    assert first["source"] == "rules" and first["lang"] == "zh"
    assert first["output"].startswith("[1] ") and "DR分级" in first["input"]


def test_finetune_bad_pairs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"id": "a", "instruction": "i", "input": "x"}\n', encoding="utf-8")
    assert main(["advice", "finetune", str(path)]) == 2
    assert "line 1: output" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_finetune_cpu_smoke_on_smollm2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pairs = tmp_path / "pairs.jsonl"
    assert main(["advice", "make-pairs", str(CASES), str(pairs), "--lang", "en"]) == 0
    out_dir = tmp_path / "adapter"
    args = ["advice", "finetune", str(pairs), "--output-dir", str(out_dir)]
    assert main([*args, "--max-steps", "2", "--max-seq-len", "256", "--lora-r", "8"]) == 0
    meta = json.loads((out_dir / "finetune_meta.json").read_text(encoding="utf-8"))
    assert meta["steps"] == 2 and meta["config"]["lora_alpha"] == 128
    assert (out_dir / "adapter_config.json").is_file()
