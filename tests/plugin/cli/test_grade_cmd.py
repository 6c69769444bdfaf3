"""`deepdr-fhir grade IMAGE... [--json] [--bundle DIR]`: results, and bad input as one line
and exit 2 (never a traceback), without losing the other images' results."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from PIL import Image

from models.grader.config import default_data_dir
from plugin.cli.main import main

FUNDUS = default_data_dir() / "fundus" / "srahim-dr600" / "images" / "Patient001_L.jpg"


@pytest.fixture
def fundus() -> Path:
    if not FUNDUS.is_file():
        pytest.skip(f"shared fundus data not found ({FUNDUS.parent}); set DEEPDR_DATA_DIR")
    return FUNDUS


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    assert lines[0].startswith("deepdr-fhir grade: ")
    return lines[0]


def test_grades_a_fundus_photo(
    tiny_grader_bundle: Path, fundus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["grade", "--bundle", str(tiny_grader_bundle), str(fundus)], capsys)
    assert code == 0 and err == ""
    assert "grade" in out and "referable" in out.lower()


def test_json_output(
    tiny_grader_bundle: Path, fundus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        ["grade", "--json", "--bundle", str(tiny_grader_bundle), str(fundus)], capsys
    )
    assert code == 0
    data = json.loads(out)
    assert data["model"] == {"name": "tiny", "version": "0.0.1"}
    assert data["provider"] == "CPUExecutionProvider"
    (img,) = data["images"]
    assert img["quality"]["gradable"] is True and len(img["dr_grade"]["probabilities"]) == 5
    assert "map" not in img["lesions"]["MA"]  # maps only with --maps
    code, out, _ = run(
        ["grade", "--json", "--maps", "--bundle", str(tiny_grader_bundle), str(fundus)], capsys
    )
    assert len(json.loads(out)["images"][0]["lesions"]["MA"]["map"]) == 4


def test_missing_file(
    tiny_grader_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["grade", "--bundle", str(tiny_grader_bundle), str(tmp_path / "no.jpg")], capsys
    )
    assert code == 2 and "no such file" in one_line_error(err)


def _header_only_png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def _bad_files(tmp_path: Path, fundus: Path) -> dict[str, tuple[Path, str]]:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(fundus.read_bytes()[:2000])
    tiny = tmp_path / "one.png"
    Image.new("RGB", (1, 1)).save(tiny)
    huge = tmp_path / "huge.png"
    huge.write_bytes(_header_only_png(20000, 20000))
    alpha = tmp_path / "alpha.png"
    Image.new("RGBA", (300, 300), (255, 255, 255, 0)).save(alpha)  # fully transparent
    gray = tmp_path / "gray.png"
    Image.new("L", (300, 200), 200).save(gray)
    cmyk = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (300, 200), (0, 0, 0, 0)).save(cmyk)  # a white CMYK page
    text = tmp_path / "notes.jpg"
    text.write_text("not an image")
    return {
        "corrupt-jpeg": (corrupt, "corrupt or truncated"),
        "one-pixel": (tiny, "too small"),
        "huge-header": (huge, "too large"),
        "png-alpha": (alpha, "not a fundus photograph"),
        "grayscale": (gray, "not a fundus photograph"),
        "cmyk": (cmyk, "not a fundus photograph"),
        "not-an-image": (text, "not a recognised image"),
    }


CASES = [
    "corrupt-jpeg",
    "one-pixel",
    "huge-header",
    "png-alpha",
    "grayscale",
    "cmyk",
    "not-an-image",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_exit_2(
    case: str,
    tiny_grader_bundle: Path,
    fundus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, reason = _bad_files(tmp_path, fundus)[case]
    code, out, err = run(["grade", "--bundle", str(tiny_grader_bundle), str(path)], capsys)
    assert code == 2
    assert reason in one_line_error(err)


def test_bad_image_does_not_lose_the_good_one(
    tiny_grader_bundle: Path, fundus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt, _ = _bad_files(tmp_path, fundus)["corrupt-jpeg"]
    code, out, err = run(
        ["grade", "--json", "--bundle", str(tiny_grader_bundle), str(fundus), str(corrupt)], capsys
    )
    assert code == 2 and "1 of 2" in one_line_error(err)
    images = json.loads(out)["images"]
    assert images[0]["quality"]["gradable"] is True
    assert images[1]["error"] == "corrupt or truncated image data"


@pytest.mark.parametrize("mode", ["RGBA", "L", "CMYK"])
def test_fundus_in_other_pixel_formats_is_graded(
    mode: str,
    tiny_grader_bundle: Path,
    fundus: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / ("f.jpg" if mode == "CMYK" else "f.png")
    Image.open(fundus).convert(mode).save(path)
    code, out, err = run(
        ["grade", "--json", "--bundle", str(tiny_grader_bundle), str(path)], capsys
    )
    assert code == 0, err
    assert json.loads(out)["images"][0]["quality"]["gradable"] is True


def test_bundle_problems(tmp_path: Path, fundus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["grade", "--bundle", str(tmp_path / "nowhere"), str(fundus)], capsys)
    assert code == 2 and "no such bundle folder" in one_line_error(err)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "metadata.json").write_text("{}")
    code, _, err = run(["grade", "--bundle", str(tmp_path / "broken"), str(fundus)], capsys)
    assert code == 2 and "invalid metadata.json" in one_line_error(err)


def test_console_script_exit_code_and_no_traceback(
    tiny_grader_bundle: Path, fundus: Path, tmp_path: Path
) -> None:
    corrupt, _ = _bad_files(tmp_path, fundus)["corrupt-jpeg"]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugin.cli.main",
            "grade",
            "--bundle",
            str(tiny_grader_bundle),
            str(corrupt),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "corrupt or truncated" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
