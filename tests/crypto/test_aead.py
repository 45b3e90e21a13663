"""AES-256-GCM fields and streamed blobs: round trips, and every tampering is refused."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatcustody.crypto import FieldCipher, decrypt_stream, encrypt_stream, new_key
from chatcustody.errors import IntegrityError


def _encrypt(key: bytes, name: bytes, data: bytes, chunk: int) -> bytes:
    return b"".join(enc for _, enc in encrypt_stream(key, name, io.BytesIO(data), chunk))


def test_field_round_trip_and_aad_binding() -> None:
    """A sealed field opens only with its own key and AAD."""
    key = new_key()
    sealed = FieldCipher(key).seal("护卫队 🚓".encode(), b"records|1")
    assert FieldCipher(key).open(sealed, b"records|1", "x") == "护卫队 🚓".encode()
    with pytest.raises(IntegrityError, match="record 2"):
        FieldCipher(key).open(sealed, b"records|2", "record 2")
    with pytest.raises(IntegrityError):
        FieldCipher(new_key()).open(sealed, b"records|1", "x")
    with pytest.raises(IntegrityError, match="malformed"):
        FieldCipher(key).open(sealed[:10], b"records|1", "x")


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_blob_round_trip(data: bytes, chunk: int) -> None:
    """Any content, any chunk size, comes back byte-identical."""
    key = new_key()
    blob = _encrypt(key, b"n", data, chunk)
    assert b"".join(decrypt_stream(key, b"n", io.BytesIO(blob), "b")) == data


@settings(max_examples=80, deadline=None)
@given(data=st.binary(min_size=1, max_size=3000), chunk=st.integers(16, 512), where=st.floats(0, 1))
def test_blob_any_flipped_bit_fails(data: bytes, chunk: int, where: float) -> None:
    """Flipping any bit of an encrypted blob makes decryption fail, never return wrong bytes."""
    key = new_key()
    blob = bytearray(_encrypt(key, b"n", data, chunk))
    pos = min(int(where * len(blob)), len(blob) - 1)
    blob[pos] ^= 0x01
    with pytest.raises(IntegrityError):
        b"".join(decrypt_stream(key, b"n", io.BytesIO(bytes(blob)), "b"))


def test_blob_truncation_reorder_and_rename_fail() -> None:
    """Dropping the last chunk, swapping chunks or renaming the blob is detected."""
    key = new_key()
    data = bytes(range(256)) * 8
    chunk = 256
    blob = _encrypt(key, b"name", data, chunk)
    header, frame = 20, chunk + 16
    body = blob[header:]
    frames = [body[i : i + frame] for i in range(0, len(body), frame)]
    truncated = blob[: header + frame * (len(frames) - 1)]
    swapped = blob[:header] + frames[1] + frames[0] + b"".join(frames[2:])
    for bad, name in ((truncated, b"name"), (swapped, b"name"), (blob, b"other")):
        with pytest.raises(IntegrityError):
            b"".join(decrypt_stream(key, name, io.BytesIO(bad), "b"))
