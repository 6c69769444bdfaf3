"""Session-wide fixtures: real servers on 127.0.0.1, started once and stopped cleanly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from plugin.local_servers.fhir_server import LocalFhirServer
from plugin.store.local_postgres import LocalPostgres


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[LocalFhirServer]:
    """The real FHIR R4 server (Medplum in-memory router) on a free loopback port."""
    with LocalFhirServer() as server:
        yield server


@pytest.fixture(scope="session")
def fhir_base_url(fhir_server: LocalFhirServer) -> str:
    return fhir_server.base_url


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL server (Debian packages) on a free loopback port, for the session."""
    with LocalPostgres() as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server: LocalPostgres) -> Iterator[str]:
    """DSN of a fresh, empty schema on that server (search_path set), dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield postgres_server.create_schema(schema)
    postgres_server.drop_schema(schema)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL for each backend: a fresh SQLite file, and a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.sqlite3"
    dsn: str = request.getfixturevalue("postgres_dsn")
    return dsn


@pytest.fixture(scope="session")
def tiny_grader_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny but complete grader bundle (64 px input, every output kind), hand-built with
    onnx.helper so tests need neither torch nor a trained model. Its quality output is
    high for any input; its other outputs depend on the image."""
    import json

    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)

    def const(name: str, arr: np.ndarray) -> onnx.TensorProto:
        return numpy_helper.from_array(arr.astype(np.float32), name)

    inits = [
        const("w_grade", rng.normal(0, 2, (3, 5))),
        const("w_ref", rng.normal(0, 2, (3, 1))),
        const("w_dme", rng.normal(0, 2, (3, 1))),
        const("w_les", rng.normal(0, 2, (3, 4))),
        const("b_quality", np.array([4.0])),
        const("w_map", rng.normal(0, 1, (4, 3, 1, 1))),
        numpy_helper.from_array(np.array([-1], np.int64), "flat"),
    ]
    nodes = [
        helper.make_node("GlobalAveragePool", ["image"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["pooled"]),
        helper.make_node("MatMul", ["pooled", "w_grade"], ["g"]),
        helper.make_node("Softmax", ["g"], ["grade_probs"], axis=1),
        helper.make_node("MatMul", ["pooled", "w_ref"], ["r"]),
        helper.make_node("Reshape", ["r", "flat"], ["r1"]),
        helper.make_node("Sigmoid", ["r1"], ["referable_prob"]),
        helper.make_node("MatMul", ["pooled", "w_dme"], ["d"]),
        helper.make_node("Reshape", ["d", "flat"], ["d1"]),
        helper.make_node("Sigmoid", ["d1"], ["dme_prob"]),
        helper.make_node("ReduceMean", ["r1"], ["zero_ish"], keepdims=0),
        helper.make_node("Mul", ["r1", "zero_ish"], ["q0"]),
        helper.make_node("Sub", ["q0", "q0"], ["q1"]),
        helper.make_node("Add", ["q1", "b_quality"], ["q2"]),
        helper.make_node("Sigmoid", ["q2"], ["quality_prob"]),
        helper.make_node("MatMul", ["pooled", "w_les"], ["l"]),
        helper.make_node("Sigmoid", ["l"], ["lesion_probs"]),
        helper.make_node(
            "AveragePool", ["image"], ["small"], kernel_shape=[16, 16], strides=[16, 16]
        ),
        helper.make_node("Conv", ["small", "w_map"], ["m"]),
        helper.make_node("Sigmoid", ["m"], ["lesion_maps"]),
    ]
    f32 = TensorProto.FLOAT
    graph = helper.make_graph(
        nodes,
        "tiny-grader",
        [helper.make_tensor_value_info("image", f32, ["batch", 3, 64, 64])],
        [
            helper.make_tensor_value_info("grade_probs", f32, ["batch", 5]),
            helper.make_tensor_value_info("referable_prob", f32, ["batch"]),
            helper.make_tensor_value_info("dme_prob", f32, ["batch"]),
            helper.make_tensor_value_info("quality_prob", f32, ["batch"]),
            helper.make_tensor_value_info("lesion_probs", f32, ["batch", 4]),
            helper.make_tensor_value_info("lesion_maps", f32, ["batch", 4, 4, 4]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder = tmp_path_factory.mktemp("bundles") / "tiny-0.0.1"
    folder.mkdir()
    onnx.save(model, str(folder / "model.onnx"))
    shapes = {
        "grade_probs": ["batch", 5],
        "referable_prob": ["batch"],
        "dme_prob": ["batch"],
        "quality_prob": ["batch"],
        "lesion_probs": ["batch", 4],
        "lesion_maps": ["batch", 4, 4, 4],
    }
    meta = {
        "name": "tiny",
        "version": "0.0.1",
        "input": {"name": "image", "shape": ["batch", 3, 64, 64]},
        "outputs": [{"name": k, "kind": k, "shape": v} for k, v in shapes.items()],
        "thresholds": {"referable": 0.5, "dme": 0.5, "quality": 0.5},
    }
    (folder / "metadata.json").write_text(json.dumps(meta))
    return folder


@pytest.fixture(scope="module")
def remote_tiny_grader(
    tiny_grader_bundle: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SimpleNamespace]:
    """The tiny bundle's network behind the local KServe v2 server on 127.0.0.1: `.server`
    (`.server.requests` counts inferences), `.grader`: a `[grader]` settings section that
    uses it, with a bundle folder holding only metadata.json (only the remote can grade),
    and `.photo`: PNG bytes of a fundus-like image (an orange disc on black) it grades."""
    import io
    import shutil

    import numpy as np
    from PIL import Image

    from plugin.local_servers.kserve_v2 import LocalKServeV2Server

    folder = tmp_path_factory.mktemp("remote") / tiny_grader_bundle.name
    folder.mkdir()
    shutil.copy(tiny_grader_bundle / "metadata.json", folder / "metadata.json")
    yy, xx = np.mgrid[:160, :160]
    disc = np.hypot(yy - 80, xx - 80) < 67
    rgb = np.zeros((160, 160, 3), np.uint8)
    rgb[disc] = (170, 70, 30)
    rgb[disc & (np.hypot(yy - 60, xx - 95) < 6)] = (90, 20, 10)  # a dark spot
    photo = io.BytesIO()
    Image.fromarray(rgb).save(photo, format="PNG")
    with LocalKServeV2Server.for_bundle(tiny_grader_bundle, threads=1) as server:
        remote = {"kind": "kserve-v2", "url": server.url, "model_name": server.name}
        yield SimpleNamespace(
            server=server,
            grader={"bundle": str(folder), "remote": remote},
            photo=photo.getvalue(),
        )


def pytest_configure(config: pytest.Config) -> None:
    # Import torch (when installed) before any test starts threads or child processes: a
    # first torch import deep into the run, after other tests left server and worker threads
    # behind, once hung in torch's first tensor op (seen in a clean-clone `make test`).
    try:
        import torch  # noqa: F401
    except ImportError:
        pass
