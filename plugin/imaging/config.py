"""Configuration of the image layer: where images may come from, with what credentials, and
how big they may be. Secrets are pydantic SecretStr: they never appear in repr or logs."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from fhir_mappers.imaging_attachments import IMAGE_CONTENT_TYPES

MIB = 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoAuth(_Frozen):
    kind: Literal["none"] = "none"


class BearerAuth(_Frozen):
    kind: Literal["bearer"] = "bearer"
    token: SecretStr


class BasicAuth(_Frozen):
    kind: Literal["basic"] = "basic"
    username: str
    password: SecretStr


class FhirTokenAuth(_Frozen):
    """The PACS shares the EHR's authorization server: send the FHIR access token to it.
    Only ever used for the base URL it is configured on."""

    kind: Literal["fhir-token"] = "fhir-token"


AuthConfig = Annotated[NoAuth | BearerAuth | BasicAuth | FhirTokenAuth, Field(discriminator="kind")]


def normalise_base(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    path = parts.path.rstrip("/")
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


class OriginCredentials(_Frozen):
    """Credentials for every URL under `base_url` (a DICOMweb base or any image origin)."""

    base_url: str
    auth: AuthConfig

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, v: str) -> str:
        return normalise_base(v)


class ImagingLimits(_Frozen):
    # Bytes on the wire: one DICOM instance or attachment, after Content-Length and while
    # streaming. Fundus photographs are a few MB; 64 MiB allows uncompressed 4k x 4k RGB.
    max_download_bytes: int = Field(default=64 * MIB, gt=0)
    # Decompression-bomb guard, checked on the header before any pixel is decoded.
    max_pixels: int = Field(default=40_000_000, gt=0)  # rows * columns (about 7700 x 5200)
    max_decoded_bytes: int = Field(default=256 * MIB, gt=0)  # rows*cols*samples*bytes*frames
    max_images_per_study: int = Field(default=64, gt=0)
    timeout_s: float = Field(default=20.0, gt=0)


class ImagingSettings(_Frozen):
    # Used when an ImagingStudy names no dicom-wado-rs Endpoint.
    default_dicomweb_base: str | None = None
    credentials: tuple[OriginCredentials, ...] = ()
    limits: ImagingLimits = ImagingLimits()
    allowed_content_types: frozenset[str] = IMAGE_CONTENT_TYPES
    # How to ask for pixels: the whole instance (application/dicom, stored transfer syntax
    # first) or metadata + frames (bulk data in an explicit transfer syntax).
    retrieve: Literal["instance", "frames"] = "instance"
    # Send the FHIR token to a DICOMweb/attachment origin equal to the FHIR server's own
    # origin (same host, same authorization). Other origins need an explicit FhirTokenAuth.
    fhir_token_same_origin: bool = True
    # When set, image requests go only to URLs under these bases (DICOMweb and attachment
    # origins): an ImagingStudy/Endpoint from the EHR cannot steer us anywhere else.
    allowed_bases: tuple[str, ...] | None = None

    @field_validator("default_dicomweb_base")
    @classmethod
    def _base(cls, v: str | None) -> str | None:
        return normalise_base(v) if v else None

    @field_validator("allowed_bases")
    @classmethod
    def _bases(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return tuple(normalise_base(b) for b in v) if v is not None else None

    def allows(self, url: str) -> bool:
        if self.allowed_bases is None:
            return True
        target = normalise_base(url)
        return any(target == b or target.startswith(b + "/") for b in self.allowed_bases)

    def credentials_for(self, url: str) -> AuthConfig | None:
        """The credentials whose base URL is the longest prefix of `url` (path-segment wise)."""
        target = normalise_base(url)
        best: OriginCredentials | None = None
        for cred in self.credentials:
            if target == cred.base_url or target.startswith(cred.base_url + "/"):
                if best is None or len(cred.base_url) > len(best.base_url):
                    best = cred
        return best.auth if best else None
