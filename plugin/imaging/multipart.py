"""multipart/related (RFC 2387 over RFC 2046) as DICOMweb uses it: the boundary comes from
the Content-Type, each part has its own headers (Content-Type, Content-Location...), and the
body between delimiters is taken byte for byte (binary DICOM, JPEG or raw pixel data)."""

from __future__ import annotations

from dataclasses import dataclass


class MultipartError(ValueError):
    """The response is not well-formed multipart; the message is safe to show."""


@dataclass(frozen=True)
class MediaType:
    type: str  # lower-case "type/subtype"
    params: dict[str, str]  # lower-case names, unquoted values

    def param(self, name: str) -> str | None:
        return self.params.get(name.lower())


def _split_params(text: str) -> list[str]:
    """Split on ';' outside quoted strings."""
    out: list[str] = []
    buf: list[str] = []
    quoted = escaped = False
    for ch in text:
        if escaped:
            buf.append(ch)
            escaped = False
        elif ch == "\\" and quoted:
            buf.append(ch)
            escaped = True
        elif ch == '"':
            buf.append(ch)
            quoted = not quoted
        elif ch == ";" and not quoted:
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return out


def _unquote(value: str) -> str:
    v = value.strip()
    if len(v) >= 2 and v[0] == v[-1] == '"':
        inner = v[1:-1]
        res: list[str] = []
        i = 0
        while i < len(inner):
            if inner[i] == "\\" and i + 1 < len(inner):
                i += 1
            res.append(inner[i])
            i += 1
        return "".join(res)
    return v


def parse_media_type(value: str | None) -> MediaType:
    """`multipart/related; type="application/dicom"; boundary=xyz` -> MediaType.

    Some servers (Orthanc) put the transfer syntax inside the quoted `type` parameter
    (`type="image/jpeg; transfer-syntax=1.2..."`): that inner parameter is lifted out too."""
    if not value or not value.strip():
        raise MultipartError("no Content-Type")
    pieces = _split_params(value)
    mtype = pieces[0].strip().lower()
    if "/" not in mtype:
        raise MultipartError("Content-Type is not a media type")
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        if "=" not in piece:
            continue
        name, _, raw = piece.partition("=")
        params[name.strip().lower()] = _unquote(raw)
    inner = params.get("type")
    if inner and ";" in inner:
        inner_mt = parse_media_type(inner)
        params["type"] = inner_mt.type
        for k, v in inner_mt.params.items():
            params.setdefault(k, v)
    return MediaType(mtype, params)


@dataclass(frozen=True)
class Part:
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def media_type(self) -> MediaType | None:
        ct = self.headers.get("content-type")
        return parse_media_type(ct) if ct else None


def _parse_headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    text = block.decode("latin-1")
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # obsolete folding
            last = next(reversed(headers))
            headers[last] += " " + line.strip()
            continue
        name, sep, val = line.partition(":")
        if not sep:
            raise MultipartError("malformed part header")
        headers[name.strip().lower()] = val.strip()
    return headers


def split_multipart(body: bytes, boundary: str) -> list[Part]:
    """The parts of a multipart body; raises MultipartError when it is truncated or broken."""
    if not boundary or len(boundary) > 200:
        raise MultipartError("missing or invalid multipart boundary")
    delim = b"--" + boundary.encode("latin-1")
    if body.startswith(delim):
        pos = 0
    else:
        found = body.find(b"\r\n" + delim)
        if found < 0:
            raise MultipartError("multipart boundary not found in the body")
        pos = found + 2
    parts: list[Part] = []
    while True:
        pos += len(delim)
        if body[pos : pos + 2] == b"--":
            return parts  # close delimiter; the epilogue is ignored
        eol = body.find(b"\n", pos)
        if eol < 0 or body[pos:eol].strip(b" \t\r"):
            raise MultipartError("malformed multipart delimiter line")
        start = eol + 1
        end = body.find(b"\r\n" + delim, start)
        if end < 0:
            raise MultipartError("multipart body is truncated (no closing boundary)")
        raw = body[start:end]
        sep = raw.find(b"\r\n\r\n")
        if raw.startswith(b"\r\n"):
            head, content = b"", raw[2:]
        elif sep >= 0:
            head, content = raw[:sep], raw[sep + 4 :]
        else:
            lf = raw.find(b"\n\n")
            if lf < 0:
                raise MultipartError("multipart part has no header/body separator")
            head, content = raw[:lf], raw[lf + 2 :]
        parts.append(Part(_parse_headers(head), content))
        pos = end + 2


def parse_multipart_related(content_type: str | None, body: bytes) -> tuple[MediaType, list[Part]]:
    mt = parse_media_type(content_type)
    if mt.type != "multipart/related":
        raise MultipartError(f"expected multipart/related, got {mt.type}")
    boundary = mt.param("boundary")
    if not boundary:
        raise MultipartError("multipart/related without a boundary")
    return mt, split_multipart(body, boundary)
