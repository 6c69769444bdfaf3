"""The grader predictor on a remote inference server: the bundle's metadata.json (local)
drives preprocessing and postprocessing, the network runs on the server.

    predictor = open_remote_predictor(bundle_dir, settings.grader.remote)

The bundle's model.onnx may be absent. Before anything is graded, the remote model's
inputs and outputs (names, shapes, datatypes, from GET /v2/models/{name}) must match
metadata.json, else ModelMismatch: a server serving another model must not be used as if
it were the bundle's (its results would carry the bundle's name and version).
"""

from __future__ import annotations

from pathlib import Path

from models.grader.bundle import check_against_session, read_metadata
from models.grader.errors import ModelUnavailable
from models.grader.predict import Predictor, load_predictor
from plugin.config import KServeV2Grader
from plugin.inference.errors import ModelMismatch
from plugin.inference.kserve_v2 import KServeV2Runner


def open_remote_predictor(
    bundle: Path, remote: KServeV2Grader, *, batch_size: int = 8
) -> Predictor:
    """Raises ModelUnavailable (InferenceServerError, InferenceProtocolError, ModelMismatch,
    or the bundle's own metadata errors)."""
    meta = read_metadata(bundle)
    runner = KServeV2Runner(
        remote.url,
        remote.model_name,
        model_version=remote.model_version,
        timeout_s=remote.timeout_s,
        api_key=remote.api_key.get_secret_value() if remote.api_key else None,
    )
    try:
        label = f"remote model {remote.model_name} does not match bundle {bundle.name}"
        try:
            check_against_session(meta, list(runner.inputs), list(runner.outputs))
        except ModelUnavailable as exc:
            raise ModelMismatch(f"{label}: {exc}") from None
        declared = {o.name for o in meta.outputs}
        not_float = [n for n in runner.non_float_outputs() if n in declared]
        if not_float:
            raise ModelMismatch(f"{label}: output {not_float[0]!r} is not a float tensor")
        return load_predictor(bundle, runner=runner, batch_size=batch_size)
    except BaseException:
        runner.close()
        raise
