"""multipart/related parsing as DICOMweb servers send it."""

from __future__ import annotations

import pytest

from plugin.imaging.multipart import (
    MultipartError,
    parse_media_type,
    parse_multipart_related,
    split_multipart,
)


def body(boundary: str, *parts: tuple[str, bytes], preamble: bytes = b"") -> bytes:
    out = preamble
    for headers, content in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_media_type_with_quoted_params() -> None:
    mt = parse_media_type('Multipart/Related; type="application/dicom"; boundary="a;b=c"')
    assert mt.type == "multipart/related"
    assert mt.param("type") == "application/dicom"
    assert mt.param("BOUNDARY") == "a;b=c"


def test_transfer_syntax_inside_the_quoted_type_is_lifted_out() -> None:
    # What Orthanc sends for frames.
    mt = parse_media_type(
        'multipart/related; type="image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.50"; boundary=xyz'
    )
    assert mt.param("type") == "image/jpeg"
    assert mt.param("transfer-syntax") == "1.2.840.10008.1.2.4.50"


def test_escaped_quotes() -> None:
    assert parse_media_type('a/b; x="q\\"uote"').param("x") == 'q"uote'


@pytest.mark.parametrize("value", [None, "", "   ", "nonsense"])
def test_bad_media_types(value: str | None) -> None:
    with pytest.raises(MultipartError):
        parse_media_type(value)


def test_parts_keep_binary_bodies_byte_for_byte() -> None:
    binary = bytes(range(256)) * 4 + b"\r\n--almost-boundary\r\n"
    raw = body(
        "BND",
        ("Content-Type: application/dicom\r\nContent-Location: /x", binary),
        ("Content-Type: image/jpeg", b"\xff\xd8\xff\xd9"),
        preamble=b"this preamble is ignored\r\n",
    )
    mt, parts = parse_multipart_related(
        'multipart/related; type="application/dicom"; boundary=BND', raw
    )
    assert mt.param("type") == "application/dicom"
    assert [p.body for p in parts] == [binary, b"\xff\xd8\xff\xd9"]
    assert parts[0].headers == {"content-type": "application/dicom", "content-location": "/x"}
    assert parts[1].media_type is not None and parts[1].media_type.type == "image/jpeg"


def test_part_without_headers() -> None:
    raw = b"--b\r\n\r\npayload\r\n--b--"
    assert split_multipart(raw, "b")[0].body == b"payload"
    assert split_multipart(raw, "b")[0].headers == {}


def test_empty_multipart_has_no_parts() -> None:
    assert split_multipart(b"--b--\r\n", "b") == []


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"--b\r\nContent-Type: a/b\r\n\r\ntruncated data", "truncated"),
        (b"no boundary anywhere", "boundary not found"),
        (b"--b\r\nno separator here\r\n--b--", "separator"),
        (b"--b\r\nbroken header line\r\n\r\nx\r\n--b--", "malformed part header"),
        (b"--bjunk\r\n\r\nx\r\n--b--", "delimiter"),
    ],
)
def test_broken_bodies_raise(raw: bytes, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        split_multipart(raw, "b")


def test_not_multipart_or_no_boundary() -> None:
    with pytest.raises(MultipartError, match="expected multipart/related"):
        parse_multipart_related("application/dicom", b"")
    with pytest.raises(MultipartError, match="without a boundary"):
        parse_multipart_related("multipart/related; type=application/dicom", b"")
