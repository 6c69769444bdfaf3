"""The KServe v2 / Open Inference Protocol over HTTP: payload models and tensor codecs,
shared by our client (plugin.inference.kserve_v2) and the local test server
(plugin.local_servers.kserve_v2).

Sources: the Open Inference Protocol REST specification (kserve/open-inference-protocol,
specification/protocol/inference_rest.md) and Triton's binary tensor data extension
(triton-inference-server/server, docs/protocol/extension_binary_data.md):

- tensor data in JSON is row-major; we send it flat (the specification allows flat or
  nested), and accept either;
- binary tensors follow the JSON object in the body, in the order of the tensors in the
  JSON, little-endian, row-major, no padding; each carries the parameter
  `binary_data_size`; the header `Inference-Header-Content-Length` gives the JSON length;
- an output is asked for in binary with `"parameters": {"binary_data": true}`, or all of
  them with the request parameter `binary_data_output`;
- errors are `{"error": "..."}` with an HTTP error status.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError

HEADER_LENGTH = "Inference-Header-Content-Length"
BINARY_EXTENSION = "binary_tensor_data"
JSON_TYPE = "application/json"
BINARY_TYPE = "application/octet-stream"

# v2 datatypes we can carry (BYTES, variable-length strings, is not a grader tensor).
DATATYPES: dict[str, np.dtype[Any]] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"),
    "UINT16": np.dtype("<u2"),
    "UINT32": np.dtype("<u4"),
    "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"),
    "INT16": np.dtype("<i2"),
    "INT32": np.dtype("<i4"),
    "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"),
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
}
# onnxruntime's element type names, to describe a remote model as a local session would.
ORT_TYPES: dict[str, str] = {
    "BOOL": "tensor(bool)",
    "UINT8": "tensor(uint8)",
    "UINT16": "tensor(uint16)",
    "UINT32": "tensor(uint32)",
    "UINT64": "tensor(uint64)",
    "INT8": "tensor(int8)",
    "INT16": "tensor(int16)",
    "INT32": "tensor(int32)",
    "INT64": "tensor(int64)",
    "FP16": "tensor(float16)",
    "FP32": "tensor(float)",
    "FP64": "tensor(double)",
    "BYTES": "tensor(string)",
}
FLOAT_DATATYPES = frozenset({"FP16", "FP32", "FP64"})


class V2FormatError(ValueError):
    """A payload that does not follow the protocol; the message is safe to return."""


class _Payload(BaseModel):
    # Servers and clients may add fields (extensions); we read what the protocol defines.
    model_config = ConfigDict(extra="ignore", frozen=True)


class MetadataTensor(_Payload):
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1: a variable-size dimension


class ModelMetadata(_Payload):
    name: str
    versions: tuple[str, ...] | None = None
    platform: str = ""
    inputs: tuple[MetadataTensor, ...]
    outputs: tuple[MetadataTensor, ...]


class ServerMetadata(_Payload):
    name: str = ""
    version: str = ""
    extensions: tuple[str, ...] = ()


class RequestInput(_Payload):
    name: str
    shape: tuple[int, ...]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: Any = None


class RequestOutput(_Payload):
    name: str
    parameters: dict[str, Any] | None = None


class InferenceRequest(_Payload):
    id: str | None = None
    parameters: dict[str, Any] | None = None
    inputs: tuple[RequestInput, ...] = Field(min_length=1)
    outputs: tuple[RequestOutput, ...] | None = None


class ResponseOutput(_Payload):
    name: str
    shape: tuple[int, ...]
    datatype: str
    parameters: dict[str, Any] | None = None
    data: Any = None


class InferenceResponse(_Payload):
    model_name: str
    model_version: str | None = None
    id: str | None = None
    parameters: dict[str, Any] | None = None
    outputs: tuple[ResponseOutput, ...]


class ErrorBody(_Payload):
    error: str


_PayloadT = TypeVar("_PayloadT", bound=_Payload)


# --- tensors ------------------------------------------------------------------------------


def datatype_of(array: NDArray[Any]) -> str:
    for name, dtype in DATATYPES.items():
        if array.dtype == dtype or (array.dtype.kind == dtype.kind == "b"):
            return name
    raise V2FormatError(f"element type {array.dtype} has no v2 datatype")


def tensor_bytes(array: NDArray[Any]) -> bytes:
    """Little-endian, row-major, no padding (the binary extension's layout)."""
    dtype = DATATYPES[datatype_of(array)]
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def tensor_json(array: NDArray[Any]) -> list[Any]:
    """Flat row-major data (JSON has no NaN or infinity: those are refused)."""
    values: list[Any] = np.asarray(array).ravel().tolist()
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise V2FormatError("tensor holds NaN or infinity, which JSON cannot carry")
    return values


def decode_tensor(
    item: RequestInput | ResponseOutput, binary: memoryview, offset: int
) -> tuple[NDArray[Any], int]:
    """The tensor of one request input / response output, and the offset of the next binary
    section. Checks shape, datatype and sizes; raises V2FormatError."""
    dtype = DATATYPES.get(item.datatype)
    if dtype is None:
        raise V2FormatError(f"tensor {item.name!r}: datatype {item.datatype!r} not supported")
    if any(d < 0 for d in item.shape):
        raise V2FormatError(f"tensor {item.name!r}: negative dimension in shape")
    count = math.prod(item.shape)
    size = (item.parameters or {}).get("binary_data_size")
    if size is not None:
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise V2FormatError(f"tensor {item.name!r}: binary_data_size must be an integer")
        if size != count * dtype.itemsize:
            raise V2FormatError(
                f"tensor {item.name!r}: binary_data_size {size} does not fit shape "
                f"{list(item.shape)} of {item.datatype}"
            )
        if offset + size > len(binary):
            raise V2FormatError(f"tensor {item.name!r}: binary data shorter than declared")
        raw = binary[offset : offset + size]
        return np.frombuffer(raw, dtype=dtype).reshape(item.shape), offset + size
    if item.data is None:
        raise V2FormatError(f"tensor {item.name!r}: no data")
    try:
        array = np.asarray(item.data, dtype=dtype)
    except (TypeError, ValueError, OverflowError):
        raise V2FormatError(f"tensor {item.name!r}: data is not {item.datatype}") from None
    if array.size != count:
        raise V2FormatError(
            f"tensor {item.name!r}: {array.size} values for shape {list(item.shape)}"
        )
    return array.reshape(item.shape), offset


# --- bodies -------------------------------------------------------------------------------


def split_body(body: bytes, header_length: str | None) -> tuple[bytes, memoryview]:
    """(JSON object, binary tail) per Inference-Header-Content-Length (absent: all JSON)."""
    if header_length is None:
        return body, memoryview(b"")
    try:
        n = int(header_length)
    except ValueError:
        raise V2FormatError(f"{HEADER_LENGTH} is not a number") from None
    if not 0 < n <= len(body):
        raise V2FormatError(f"{HEADER_LENGTH} does not fit the body")
    return body[:n], memoryview(body)[n:]


def parse_json(raw: bytes, model: type[_PayloadT]) -> _PayloadT:
    try:
        return model.model_validate(json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise V2FormatError("body is not JSON") from None
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        raise V2FormatError(f"not a v2 {model.__name__}: {where or 'body'} invalid") from None


def frame(obj: dict[str, Any], tails: Sequence[bytes]) -> tuple[bytes, dict[str, str]]:
    """A body (JSON, then the binary tails) and its content headers."""
    head = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    if not tails:
        return head, {"Content-Type": JSON_TYPE}
    return head + b"".join(tails), {
        "Content-Type": BINARY_TYPE,
        HEADER_LENGTH: str(len(head)),
    }


def encode_request(
    inputs: Mapping[str, NDArray[Any]],
    output_names: Sequence[str],
    *,
    request_id: str,
    binary: bool,
) -> tuple[bytes, dict[str, str]]:
    """An inference request; with `binary`, inputs go as binary data and the outputs are
    asked for as binary data too."""
    items: list[dict[str, Any]] = []
    tails: list[bytes] = []
    for name, array in inputs.items():
        item: dict[str, Any] = {
            "name": name,
            "shape": list(array.shape),
            "datatype": datatype_of(array),
        }
        if binary:
            raw = tensor_bytes(array)
            item["parameters"] = {"binary_data_size": len(raw)}
            tails.append(raw)
        else:
            item["data"] = tensor_json(array)
        items.append(item)
    outputs: list[dict[str, Any]] = [
        {"name": n, "parameters": {"binary_data": True}} if binary else {"name": n}
        for n in output_names
    ]
    return frame({"id": request_id, "inputs": items, "outputs": outputs}, tails)


def decode_request(
    body: bytes, header_length: str | None
) -> tuple[InferenceRequest, dict[str, NDArray[Any]]]:
    head, binary = split_body(body, header_length)
    request = parse_json(head, InferenceRequest)
    tensors, offset = _decode_all(request.inputs, binary)
    if offset != len(binary):
        raise V2FormatError("binary data longer than the inputs declare")
    return request, tensors


def encode_response(
    *,
    model_name: str,
    model_version: str | None,
    request_id: str | None,
    outputs: Sequence[tuple[str, NDArray[Any], bool]],
) -> tuple[bytes, dict[str, str]]:
    """An inference response; each output as (name, array, as binary)."""
    items: list[dict[str, Any]] = []
    tails: list[bytes] = []
    for name, array, binary in outputs:
        item: dict[str, Any] = {
            "name": name,
            "shape": list(array.shape),
            "datatype": datatype_of(array),
        }
        if binary:
            raw = tensor_bytes(array)
            item["parameters"] = {"binary_data_size": len(raw)}
            tails.append(raw)
        else:
            item["data"] = tensor_json(array)
        items.append(item)
    obj: dict[str, Any] = {"model_name": model_name}
    if model_version is not None:
        obj["model_version"] = model_version
    if request_id is not None:
        obj["id"] = request_id
    obj["outputs"] = items
    return frame(obj, tails)


def decode_response(
    body: bytes, header_length: str | None
) -> tuple[InferenceResponse, dict[str, NDArray[Any]]]:
    head, binary = split_body(body, header_length)
    response = parse_json(head, InferenceResponse)
    tensors, _ = _decode_all(response.outputs, binary)
    return response, tensors


def _decode_all(
    items: Sequence[RequestInput | ResponseOutput], binary: memoryview
) -> tuple[dict[str, NDArray[Any]], int]:
    tensors: dict[str, NDArray[Any]] = {}
    offset = 0
    for item in items:
        if item.name in tensors:
            raise V2FormatError(f"tensor {item.name!r} given twice")
        tensors[item.name], offset = decode_tensor(item, binary, offset)
    return tensors, offset


def error_body(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


def wants_binary(request: InferenceRequest, output: RequestOutput | None) -> bool:
    """Whether an output goes back as binary data: its own `binary_data` parameter, else
    the request's `binary_data_output`."""
    own = (output.parameters or {}).get("binary_data") if output is not None else None
    if isinstance(own, bool):
        return own
    return (request.parameters or {}).get("binary_data_output") is True
