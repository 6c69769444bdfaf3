"""Fixtures for remote inference: synthetic fundus photographs (a textured disc on black,
so the field is found and the network runs), the tiny grader bundle served by the local
KServe v2 server on 127.0.0.1, and a copy of that bundle without its model.onnx."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from plugin.local_servers.kserve_v2 import LocalKServeV2Server


def synthetic_fundus(seed: int, size: int = 160) -> np.ndarray:
    """An RGB uint8 'photograph': an orange disc with noise and a few spots that differ
    per seed (so the network's outputs differ per image)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    disc = np.hypot(yy - size / 2, xx - size / 2) < size * 0.42
    img = np.zeros((size, size, 3), np.float32)
    img[disc] = np.array([170, 70, 30], np.float32) * rng.uniform(0.7, 1.2)
    img += rng.normal(0, 12, img.shape) * disc[..., None]
    for _ in range(6):
        cy, cx = rng.uniform(0.3, 0.7, 2) * size
        spot = np.hypot(yy - cy, xx - cx) < rng.uniform(3, 9)
        img[spot & disc] += rng.uniform(-60, 60)
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def photos() -> list[np.ndarray]:
    return [synthetic_fundus(seed) for seed in range(5)]


@pytest.fixture(scope="module")
def v2_server(tiny_grader_bundle: Path) -> Iterator[LocalKServeV2Server]:
    """The tiny bundle's model.onnx behind the KServe v2 protocol, as model "tiny"."""
    with LocalKServeV2Server.for_bundle(tiny_grader_bundle, threads=1) as server:
        yield server


@pytest.fixture
def metadata_only_bundle(tiny_grader_bundle: Path, tmp_path: Path) -> Path:
    """The bundle as a remote deployment ships it: metadata.json, no model.onnx."""
    folder = tmp_path / tiny_grader_bundle.name
    folder.mkdir()
    shutil.copy(tiny_grader_bundle / "metadata.json", folder / "metadata.json")
    return folder
