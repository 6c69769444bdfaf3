"""Fixtures for the grader tests: the shared fundus data (skipped with a reason when the
folder is absent; CI has it at ../shared/data)."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.grader.config import default_data_dir


@pytest.fixture(scope="session")
def fundus_dir() -> Path:
    root = default_data_dir() / "fundus"
    if not (root / "srahim-dr600" / "labels.csv").is_file():
        pytest.skip(f"shared fundus data not found under {root} (set DEEPDR_DATA_DIR)")
    return root
