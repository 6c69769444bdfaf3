"""Apps for observability tests: a fresh SQLite store each, services closed afterwards."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from plugin.app import create_app, services_of

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[AppFactory]:
    built: list[Flask] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> Flask:
        config = dict(config or {})
        config.setdefault("store", {"url": f"sqlite:///{tmp_path}/obs.sqlite3"})
        app = create_app(config, **kwargs)
        built.append(app)
        return app

    yield make
    for app in built:
        services_of(app).close()


BUNDLE_METADATA: dict[str, Any] = {
    "name": "test-grader",
    "version": "0.1",
    "input": {"name": "image", "shape": ["batch", 3, 64, 64]},
    "outputs": [
        {"name": "grade_probs", "kind": "grade_probs", "shape": ["batch", 5]},
        {"name": "referable_prob", "kind": "referable_prob", "shape": ["batch"]},
    ],
    "thresholds": {"referable": 0.5},
}


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Path:
    """A folder shaped like a model bundle: valid metadata.json (readiness validates it) and
    a model file (opened and compared with the metadata by the grader's loader only)."""
    folder = tmp_path / "bundle-test-0.1"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not checked here")
    (folder / "metadata.json").write_text(json.dumps(BUNDLE_METADATA), encoding="utf-8")
    return folder
