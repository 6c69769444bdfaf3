"""The slice of the FHIR gateway (plugin/fhir) the image layer uses, as a Protocol, and the
one place where a gateway failure becomes a per-image error.

Only the gateway speaks HTTP to the FHIR server; the image layer calls `read` (ImagingStudy,
Endpoint, Media, DocumentReference, Binary) and `search` (a patient's image resources).
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

from plugin.fhir.errors import FhirError
from plugin.imaging.results import FetchErrorCode, ImageFetchFailed

log = logging.getLogger(__name__)

T = TypeVar("T")


class FhirReader(Protocol):
    def read(self, resource_type: str, resource_id: str) -> Any: ...

    def search(self, resource_type: str, params: Sequence[tuple[str, str]]) -> Any: ...


def fhir_call(what: str, call: Callable[[], T]) -> T:
    """Run one gateway call; any failure (HTTP status, timeout, bad JSON) becomes a safe
    ImageFetchFailed naming what we tried to read, never the server's text or a token."""
    status: object = None
    try:
        return call()
    except ImageFetchFailed:
        raise
    except FhirError as exc:
        status = exc.status
        log.warning("FHIR read failed for %s: %s", what, type(exc).__name__)
    except Exception as exc:  # a gateway bug must not stop the other images either
        status = getattr(exc, "status", None)
        log.error("FHIR read raised %s for %s", type(exc).__name__, what)
    suffix = f" (HTTP {status})" if isinstance(status, int) else ""
    code = FetchErrorCode.NOT_FOUND if status in (404, 410) else FetchErrorCode.FHIR_ERROR
    raise ImageFetchFailed(code, f"could not read {what} from the FHIR server{suffix}")


def resources_of(result: Any) -> list[dict[str, Any]]:
    """A search result as a list of resources: the gateway's SearchResult, a list of
    resources or of Bundle entries, or a searchset Bundle."""
    if hasattr(result, "resources"):
        result = result.resources
    if isinstance(result, dict) and result.get("resourceType") == "Bundle":
        result = result.get("entry") or []
    out: list[dict[str, Any]] = []
    for item in result or []:
        if isinstance(item, dict) and "resourceType" not in item and "resource" in item:
            item = item["resource"]
        if isinstance(item, dict) and "resourceType" in item:
            if (item.get("search") or {}).get("mode") == "outcome":
                continue
            out.append(item)
    return out


def binary_payload(result: Any) -> tuple[bytes, str | None]:
    """A Binary read: FHIR JSON ({resourceType: Binary, contentType, data}) or raw bytes."""
    if isinstance(result, bytes | bytearray):
        return bytes(result), None
    if isinstance(result, dict) and result.get("resourceType") == "Binary":
        data = result.get("data")
        if not isinstance(data, str) or not data:
            raise ImageFetchFailed(FetchErrorCode.CORRUPT, "Binary has no data")
        try:
            raw = base64.b64decode("".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ImageFetchFailed(FetchErrorCode.CORRUPT, "Binary data is not base64") from None
        ct = result.get("contentType")
        return raw, ct if isinstance(ct, str) else None
    raise ImageFetchFailed(FetchErrorCode.FHIR_ERROR, "Binary read returned no Binary")
