"""The network call behind the predictor, as a swappable runner.

The predictor owns preprocessing and postprocessing (driven by the bundle's metadata.json);
a Runner only turns named input tensors into named output tensors:

    runner.inputs / runner.outputs     # TensorInfo: name, shape, element type
    runner.run({"image": batch}, ["grade_probs", ...])   # -> {name: array}

`OnnxRunner` runs the bundle's model.onnx in-process with onnxruntime. A remote runner (a
KServe v2 / Triton client, in plugin.inference) describes the server's model the same way,
so `check_against_session` validates either against the metadata before anything is served.
Runners raise ModelUnavailable (messages safe to show) when the model cannot run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from models.grader.errors import ModelUnavailable

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
FLOAT32 = "tensor(float)"
"""onnxruntime's name of the float32 element type (the only input type a bundle takes)."""


@dataclass(frozen=True)
class TensorInfo:
    """One model input or output as onnxruntime's NodeArg describes it: a dynamic axis is
    a name or None, the element type a string such as "tensor(float)"."""

    name: str
    shape: tuple[int | str | None, ...]
    type: str


class Runner(Protocol):
    """Runs the bundle's network: named float32 inputs in, the named outputs out."""

    @property
    def provider(self) -> str:
        """Where the network runs (an onnxruntime execution provider, a server URL)."""
        ...

    @property
    def inputs(self) -> Sequence[TensorInfo]: ...

    @property
    def outputs(self) -> Sequence[TensorInfo]: ...

    def run(
        self, inputs: Mapping[str, NDArray[np.float32]], output_names: Sequence[str]
    ) -> dict[str, NDArray[np.generic]]: ...


def default_providers() -> tuple[str, ...]:
    available = ort.get_available_providers()
    return (CUDA, CPU) if CUDA in available else (CPU,)


class OnnxRunner:
    """A model.onnx in an onnxruntime session (CUDA when available, else CPU)."""

    def __init__(
        self,
        model_path: Path,
        *,
        threads: int | None = None,
        providers: Sequence[str] = (),
        label: str = "",
    ) -> None:
        label = label or model_path.parent.name
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(threads or 0)
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        wanted = tuple(providers) or default_providers()
        usable = [p for p in wanted if p in ort.get_available_providers()] or [CPU]
        try:
            self.session = ort.InferenceSession(str(model_path), opts, providers=usable)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(
                f"bundle {label}: model cannot be loaded ({type(exc).__name__})"
            ) from None
        self._inputs = tuple(_info(a) for a in self.session.get_inputs())
        self._outputs = tuple(_info(a) for a in self.session.get_outputs())

    @property
    def provider(self) -> str:
        return str(self.session.get_providers()[0])

    @property
    def inputs(self) -> Sequence[TensorInfo]:
        return self._inputs

    @property
    def outputs(self) -> Sequence[TensorInfo]:
        return self._outputs

    def run(
        self, inputs: Mapping[str, NDArray[np.float32]], output_names: Sequence[str]
    ) -> dict[str, NDArray[np.generic]]:
        try:
            values = self.session.run(list(output_names), dict(inputs))
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelUnavailable(f"inference failed ({type(exc).__name__})") from None
        return {name: np.asarray(v) for name, v in zip(output_names, values, strict=True)}


def _info(arg: object) -> TensorInfo:
    shape = getattr(arg, "shape", None) or ()
    return TensorInfo(
        name=str(getattr(arg, "name", "")),
        shape=tuple(d if isinstance(d, int | str) else None for d in shape),
        type=str(getattr(arg, "type", "")),
    )
