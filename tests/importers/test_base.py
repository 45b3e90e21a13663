"""``SourceInput`` turns every zip-library failure into one ``ExportUnreadable``."""

from __future__ import annotations

import zipfile
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chatcustody.importers._base import ExportUnreadable, SourceInput

UTC = ZoneInfo("UTC")
PAYLOAD = b"hello, export\n" * 200


def _zip(path: Path, *, encrypted: bool = False) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr("a/msg.txt", PAYLOAD)
    if encrypted:  # set the "encrypted" flag bit in the local and central headers
        data = bytearray(path.read_bytes())
        data[data.index(b"PK\x03\x04") + 6] |= 0x1
        data[data.index(b"PK\x01\x02") + 8] |= 0x1
        path.write_bytes(bytes(data))
    return path


def test_not_a_zip_is_unreadable(tmp_path: Path) -> None:
    """A file that is no zip raises ExportUnreadable (a ValueError and OSError), not BadZipFile."""
    path = tmp_path / "broken.zip"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    source = SourceInput(path, UTC)
    with pytest.raises(ExportUnreadable) as info:
        source.members()
    assert isinstance(info.value, ValueError) and isinstance(info.value, OSError)
    assert isinstance(info.value.__cause__, zipfile.BadZipFile)


def test_corrupt_member_read_is_unreadable(tmp_path: Path) -> None:
    """A member whose bytes fail the CRC raises ExportUnreadable while it is read."""
    path = _zip(tmp_path / "crc.zip")
    data = bytearray(path.read_bytes())
    at = data.index(PAYLOAD[:20])
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    source = SourceInput(path, UTC)
    with source.open_member("a/msg.txt") as f, pytest.raises(ExportUnreadable, match="CRC"):
        f.read()
    stream = source.attachment("a/msg.txt")
    assert stream is not None
    with stream, pytest.raises(ExportUnreadable):
        while stream.read(7):
            pass
    source.close()


def test_encrypted_member_is_unreadable(tmp_path: Path) -> None:
    """An encrypted member (RuntimeError in zipfile) raises ExportUnreadable when opened."""
    source = SourceInput(_zip(tmp_path / "enc.zip", encrypted=True), UTC)
    assert source.members() == ["a/msg.txt"]
    with pytest.raises(ExportUnreadable):
        source.open_member("a/msg.txt")
    with pytest.raises(ExportUnreadable):
        source.attachment("a/msg.txt")
    source.close()


def test_sound_member_reads_whole_and_by_line(tmp_path: Path) -> None:
    """The guarded member stream reads exactly what zipfile reads, whole or line by line."""
    source = SourceInput(_zip(tmp_path / "ok.zip"), UTC)
    with source.open_member("a/msg.txt") as f:
        assert f.read() == PAYLOAD
    with source.open_member("a/msg.txt") as f:
        assert b"".join(f) == PAYLOAD
    assert source.attachment("a/missing.txt") is None
    source.close()
