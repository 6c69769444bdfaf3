"""`deepdr-fhir screen`: bad input exits 2 with one line and no traceback; advice-only runs
against the real FHIR server print what was found and written."""

from __future__ import annotations

import base64
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from plugin.cli.main import main
from plugin.fhir import HttpFhirGateway


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["screen", *args])
    out, err = capsys.readouterr()
    return code, out, err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def store_args(tmp_path: Path) -> tuple[str, ...]:
    return ("--store", f"sqlite:///{tmp_path}/store.sqlite3")


def assert_one_line(code: int, err: str, needle: str) -> None:
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepdr-fhir screen: "), err
    assert needle in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--fhir-server", "ftp://x/fhir", "--patient", "1"), "must be an http(s) URL"),
        (("--fhir-server", "http://127.0.0.1:9/fhir", "--patient", "a b"), "patient must be"),
        (
            ("--fhir-server", "http://127.0.0.1:9/fhir", "--patient", "1", "--token-env", "NOPE_X"),
            "NOPE_X is not set",
        ),
        (
            ("--fhir-server", "http://127.0.0.1:9/f", "--patient", "1", "--config", "/nope.toml"),
            "nope.toml",
        ),
        (
            (
                "--fhir-server",
                "http://127.0.0.1:9/f",
                "--patient",
                "1",
                "--max-transaction-entries",
                "0",
            ),
            "at least 1",
        ),
    ],
)
def test_bad_arguments(
    capsys: pytest.CaptureFixture[str],
    store_args: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    needle: str,
) -> None:
    monkeypatch.delenv("NOPE_X", raising=False)
    code, out, err = run(capsys, *args, "--no-grade", *store_args)
    assert_one_line(code, err, needle)
    assert out == ""


def test_no_grader_bundle(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store_args: tuple[str, ...]
) -> None:
    code, _, err = run(
        capsys,
        *("--fhir-server", "http://127.0.0.1:9/fhir", "--patient", "1"),
        *("--bundle", str(tmp_path), *store_args),
    )
    assert_one_line(code, err, "not a grader bundle (no metadata.json)")
    assert "--no-grade" in err


def test_unreachable_server(
    capsys: pytest.CaptureFixture[str], store_args: tuple[str, ...]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/fhir"
    code, _, err = run(capsys, "--fhir-server", url, "--patient", "1", "--no-grade", *store_args)
    assert_one_line(code, err, "cannot reach the server")
    assert url in err


@pytest.mark.integration
def test_against_the_real_server(
    capsys: pytest.CaptureFixture[str],
    fhir_base_url: str,
    store_args: tuple[str, ...],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = ("--fhir-server", fhir_base_url)
    code, _, err = run(capsys, *server, "--patient", "does-not-exist", "--no-grade", *store_args)
    assert_one_line(code, err, "Patient/does-not-exist was not found")

    with HttpFhirGateway(fhir_base_url) as gw:
        patient = gw.create({"resourceType": "Patient", "birthDate": "1970-02-03"}).reference
        gw.create(
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
                "subject": {"reference": patient},
            }
        )
    pid = patient.split("/")[1]
    code, _, err = run(capsys, *server, "--patient", pid, "--bundle", "/nonexistent", *store_args)
    assert_one_line(code, err, "no metadata.json")

    monkeypatch.setenv("EHR_TEST_TOKEN", "opaque-token-value")
    token = ("--token-env", "EHR_TEST_TOKEN")
    code, out, err = run(capsys, *server, "--patient", pid, "--no-grade", *token, *store_args)
    assert code == 0, err
    assert f"Screening of {patient} on {fhir_base_url}: advice-only" in out
    assert "type 2 diabetes" in out and "Advice:" in out
    assert "CarePlan/" in out and "Provenance/" in out
    assert "opaque-token-value" not in out + err

    code, out, err = run(
        capsys, *server, "--patient", pid, "--no-grade", "--lang", "zh", *store_args
    )
    assert code == 0, err
    facts = next(line for line in out.splitlines() if line.startswith("Facts:"))
    assert "2型糖尿病" in facts and "type 2" not in facts  # the facts in the advice's language

    code, out, err = run(
        capsys, *server, "--patient", patient, "--no-grade", "--json", "--lang", "zh", *store_args
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "advice-only" and result["advice"]["lang"] == "zh"
    assert result["summary"]["eyes"] == [] and result["written"]["care-plan"].startswith(
        "CarePlan/"
    )


def config_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "deepdr.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_configured_remote_grader_is_used_not_the_local_bundle(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    store_args: tuple[str, ...],
    tiny_grader_bundle: Path,
) -> None:
    """The bundle has a working model.onnx, but grader.remote says the network runs on an
    inference server (here: none listening): the command says so, it does not grade locally."""
    config = config_file(
        tmp_path,
        f'[grader]\nbundle = "{tiny_grader_bundle}"\n'
        f'[grader.remote]\nkind = "kserve-v2"\nurl = "http://127.0.0.1:{closed_port()}"\n'
        'model_name = "tiny"\n',
    )
    server = ("--fhir-server", f"http://127.0.0.1:{closed_port()}/fhir", "--patient", "1")
    code, _, err = run(capsys, *server, "--config", config, *store_args)
    assert_one_line(code, err, "remote grader cannot be used")


@pytest.mark.integration
def test_remote_grader_and_deployment_population_from_the_config(
    capsys: pytest.CaptureFixture[str],
    fhir_base_url: str,
    tmp_path: Path,
    store_args: tuple[str, ...],
    remote_tiny_grader: Any,
) -> None:
    remote = remote_tiny_grader
    section = remote.grader
    config = config_file(
        tmp_path,
        f'[grader]\nbundle = "{section["bundle"]}"\n'
        f'[grader.remote]\nkind = "kserve-v2"\nurl = "{section["remote"]["url"]}"\n'
        f'model_name = "{section["remote"]["model_name"]}"\n'
        '[advice]\npopulation = "chinese"\nlang = "zh"\n',
    )
    with HttpFhirGateway(fhir_base_url) as gw:
        patient = gw.create({"resourceType": "Patient", "birthDate": "1970-02-03"}).reference
        for resource in (
            {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]},
            },
            {  # overweight by the Chinese cut-off (24) only
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "39156-5"}]},
                "effectiveDateTime": "2026-01-10",
                "valueQuantity": {"value": 24.5, "unit": "kg/m2", "code": "kg/m2"},
            },
            {
                "resourceType": "Media",
                "status": "completed",
                "createdDateTime": "2026-01-10",
                "bodySite": {"coding": [{"system": "http://snomed.info/sct", "code": "18944008"}]},
                "content": {
                    "contentType": "image/png",
                    "data": base64.b64encode(remote.photo).decode(),
                },
            },
        ):
            gw.create({**resource, "subject": {"reference": patient}})
    before = remote.server.requests
    code, out, err = run(
        capsys,
        *("--fhir-server", fhir_base_url, "--patient", patient, "--no-write", "--json"),
        *("--config", config, *store_args),
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["summary"]["model"]["name"] == "tiny"
    assert result["summary"]["images"]["graded"] == 1
    assert remote.server.requests > before
    assert "WT-LOSS-CHINESE" in [item["rule_id"] for item in result["advice"]["items"]]
    assert result["advice"]["lang"] == "zh"  # advice.lang when --lang is not given
