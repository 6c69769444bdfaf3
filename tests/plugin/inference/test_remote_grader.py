"""The grader with its network on the local KServe v2 server (real HTTP on 127.0.0.1): the
same ImageGradings as the bundle run locally (JSON and binary tensors), a bundle without
model.onnx, a remote model that does not match metadata.json refused, server down or not
ready or too slow as a clear ModelUnavailable, config selection and /readyz."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from models.grader.errors import ModelUnavailable
from models.grader.predict import load_predictor
from models.grader.result import ImageGrading, Laterality
from models.grader.runner import OnnxRunner, TensorInfo
from plugin.app import create_app, services_of
from plugin.config import GraderSettings, KServeV2Grader
from plugin.imaging.results import ImageSourceKind, RetrievedImage
from plugin.inference.errors import InferenceServerError, ModelMismatch
from plugin.inference.grader import open_remote_predictor
from plugin.inference.kserve_v2 import KServeV2Runner
from plugin.local_servers.kserve_v2 import LocalKServeV2Server
from plugin.workflow.errors import GraderUnavailable
from plugin.workflow.grader import load_configured_grader, load_grader

IDS = ["a", "b", "c", "d", "e", "black"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def remote(server_url: str, name: str = "tiny", **kwargs: Any) -> KServeV2Grader:
    return KServeV2Grader(url=server_url, model_name=name, **kwargs)


def dumps(gradings: Sequence[ImageGrading]) -> list[dict[str, Any]]:
    return [g.model_dump() for g in gradings]


@pytest.fixture(scope="module")
def images(photos: list[np.ndarray]) -> list[np.ndarray]:
    return [*photos, np.zeros((120, 120, 3), np.uint8)]  # the last: no fundus field


@pytest.fixture(scope="module")
def local(tiny_grader_bundle: Path, images: list[np.ndarray]) -> list[ImageGrading]:
    graded = load_predictor(tiny_grader_bundle, threads=1).grade(images, image_ids=IDS)
    assert sum(g.gradable for g in graded) == 5 and not graded[-1].gradable
    return graded


@pytest.mark.parametrize("binary", [True, False])
def test_remote_gradings_equal_local_ones(
    v2_server: LocalKServeV2Server,
    metadata_only_bundle: Path,
    images: list[np.ndarray],
    local: list[ImageGrading],
    binary: bool,
) -> None:
    before = v2_server.requests
    with KServeV2Runner(v2_server.url, "tiny", binary=binary) as runner:
        predictor = load_predictor(metadata_only_bundle, runner=runner, batch_size=2)
        assert predictor.provider.startswith("kserve-v2 http://127.0.0.1:")
        graded = predictor.grade(images, image_ids=IDS)
    # 5 gradable photos in batches of 2; the black image never reaches the network.
    assert v2_server.requests - before == 3
    assert dumps(graded) == dumps(local)  # float32 crosses both encodings bit for bit
    assert graded[0].lesions["HE"].map is not None


def test_model_onnx_is_needed_locally_but_not_remotely(
    v2_server: LocalKServeV2Server, metadata_only_bundle: Path, images: list[np.ndarray]
) -> None:
    with pytest.raises(ModelUnavailable, match="model.onnx missing"):
        load_predictor(metadata_only_bundle)
    predictor = open_remote_predictor(metadata_only_bundle, remote(v2_server.url))
    assert predictor.model.name == "tiny" and predictor.model.version == "0.0.1"
    assert predictor.grade(images[:1])[0].gradable


def _bundle_with(tmp_path: Path, source: Path, change: dict[str, Any]) -> Path:
    meta = json.loads((source / "metadata.json").read_text()) | change
    folder = tmp_path / "changed-0.0.1"
    folder.mkdir()
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


def test_a_remote_model_that_differs_from_the_metadata_is_refused(
    v2_server: LocalKServeV2Server, tiny_grader_bundle: Path, tmp_path: Path
) -> None:
    meta = json.loads((tiny_grader_bundle / "metadata.json").read_text())
    smaller = _bundle_with(
        tmp_path, tiny_grader_bundle, {"input": {"name": "image", "shape": ["batch", 3, 32, 32]}}
    )
    with pytest.raises(ModelMismatch) as caught:
        open_remote_predictor(smaller, remote(v2_server.url))
    assert str(caught.value) == (
        "remote model tiny does not match bundle changed-0.0.1: model input "
        "image[None, 3, 64, 64] does not match metadata image['batch', 3, 32, 32]"
    )
    renamed = [
        o | {"name": "dr_probs"} if o["kind"] == "grade_probs" else o for o in meta["outputs"]
    ]
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(ModelMismatch, match="declared output 'dr_probs' is not in the model"):
        open_remote_predictor(
            _bundle_with(other, tiny_grader_bundle, {"outputs": renamed}), remote(v2_server.url)
        )


class IntOutputs:
    """A runner whose model answers an int64 `referable_prob` (a model that is not ours)."""

    def __init__(self, inner: OnnxRunner) -> None:
        self._inner = inner

    @property
    def provider(self) -> str:
        return "test"

    @property
    def inputs(self) -> Sequence[TensorInfo]:
        return self._inner.inputs

    @property
    def outputs(self) -> Sequence[TensorInfo]:
        return [
            TensorInfo(t.name, t.shape, "tensor(int64)") if t.name == "referable_prob" else t
            for t in self._inner.outputs
        ]

    def run(
        self, inputs: Mapping[str, NDArray[np.float32]], output_names: Sequence[str]
    ) -> dict[str, NDArray[np.generic]]:
        return self._inner.run(inputs, output_names)


class Slow(IntOutputs):
    """The bundle's model, answering after `delay_s`."""

    def __init__(self, inner: OnnxRunner, delay_s: float) -> None:
        super().__init__(inner)
        self.delay_s = delay_s

    @property
    def outputs(self) -> Sequence[TensorInfo]:
        return self._inner.outputs

    def run(
        self, inputs: Mapping[str, NDArray[np.float32]], output_names: Sequence[str]
    ) -> dict[str, NDArray[np.generic]]:
        time.sleep(self.delay_s)
        return self._inner.run(inputs, output_names)


@pytest.fixture
def onnx_runner(tiny_grader_bundle: Path) -> OnnxRunner:
    return OnnxRunner(tiny_grader_bundle / "model.onnx", threads=1)


def test_a_remote_output_that_is_not_float_is_refused(
    onnx_runner: OnnxRunner, metadata_only_bundle: Path
) -> None:
    with LocalKServeV2Server(IntOutputs(onnx_runner), "tiny") as server:
        with pytest.raises(ModelMismatch, match="output 'referable_prob' is not a float tensor"):
            open_remote_predictor(metadata_only_bundle, remote(server.url))


def test_a_slow_server_times_out_once_without_retry(
    onnx_runner: OnnxRunner, metadata_only_bundle: Path, images: list[np.ndarray]
) -> None:
    with LocalKServeV2Server(Slow(onnx_runner, delay_s=1.5), "tiny") as server:
        predictor = open_remote_predictor(metadata_only_bundle, remote(server.url, timeout_s=0.3))
        with pytest.raises(InferenceServerError) as caught:
            predictor.grade(images[:1])
        assert server.requests == 1
        assert str(caught.value) == f"inference server {server.url} did not answer within 0.3 s"


def test_server_down_at_start_is_model_unavailable(metadata_only_bundle: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(GraderUnavailable) as caught:
        load_grader(metadata_only_bundle, remote=remote(url))
    assert caught.value.message == (
        f"remote grader cannot be used: inference server {url} unavailable for model tiny "
        "after 3 tries: unreachable (ConnectError)"
    )


def _retrieved(rgb: np.ndarray, image_id: str) -> RetrievedImage:
    return RetrievedImage(
        image_id=image_id,
        source_ref=f"Media/{image_id}",
        source_kind=ImageSourceKind.MEDIA,
        laterality=Laterality.RIGHT,
        laterality_source="bodySite",
        acquired=None,
        rgb=rgb,
        sha256=image_id * 64,
    )


def test_config_selects_the_remote_grader_and_failures_reach_the_workflow_typed(
    tiny_grader_bundle: Path, metadata_only_bundle: Path, images: list[np.ndarray]
) -> None:
    with LocalKServeV2Server.for_bundle(tiny_grader_bundle, threads=1) as server:
        settings = GraderSettings.model_validate(
            {
                "bundle": str(metadata_only_bundle),
                "batch_size": 4,
                "remote": {"kind": "kserve-v2", "url": server.url, "model_name": "tiny"},
            }
        )
        grader = load_configured_grader(settings)
        graded = grader.grade([_retrieved(images[0], "a"), _retrieved(images[1], "b")])
        assert grader.model.name == "tiny" and [g.image_id for g in graded] == ["a", "b"]
        assert graded[0].sha256 == "a" * 64 and graded[0].laterality == Laterality.RIGHT
        assert server.requests == 1  # both in one batch
        server.set_ready(False)  # the model is unloaded: 503, retried, then reported
        with pytest.raises(GraderUnavailable, match=r"after 3 tries: HTTP 503 \(model tiny"):
            grader.grade([_retrieved(images[0], "a")])
        assert server.requests == 4


@pytest.fixture
def app_factory(tmp_path: Path) -> Iterator[Any]:
    apps: list[Any] = []

    def make(grader: dict[str, Any]) -> Any:
        store = {"url": f"sqlite:///{tmp_path}/ready-{len(apps)}.sqlite3"}
        app = create_app({"store": store, "grader": grader}, start_workers=False)
        apps.append(app)
        return app

    yield make
    for app in apps:
        services_of(app).close()


def test_readyz_follows_the_inference_server(
    app_factory: Any, v2_server: LocalKServeV2Server, metadata_only_bundle: Path
) -> None:
    up = {"kind": "kserve-v2", "url": v2_server.url, "model_name": "tiny"}
    ready = app_factory({"bundle": str(metadata_only_bundle), "remote": up})
    response = ready.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    down = up | {"url": f"http://127.0.0.1:{free_port()}", "timeout_s": 1}
    not_ready = app_factory({"bundle": str(metadata_only_bundle), "remote": down})
    response = not_ready.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["grader"]["detail"] == "inference server unreachable"
