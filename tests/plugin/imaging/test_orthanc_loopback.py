"""The test PACS listens on 127.0.0.1 only (Orthanc itself would bind 0.0.0.0)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plugin.local_servers.orthanc import LocalOrthanc

pytestmark = pytest.mark.integration


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets in LISTEN state on `port`, from /proc/net/tcp{,6}."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            addr_hex, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A = TCP_LISTEN
                found.add(addr_hex)
    return found


def test_orthanc_binds_loopback_only(orthanc: LocalOrthanc) -> None:
    addresses = _listening_addresses(orthanc.port)
    assert addresses == {"0100007F"}, f"Orthanc listens on {addresses} (hex, little-endian)"
