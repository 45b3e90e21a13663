"""Digests used to identify acquired originals: SHA-256 and SM3 (GB/T 32905-2016)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

from cryptography.hazmat.primitives import hashes

READ_BYTES: Final[int] = 1 << 20


class DualDigest:
    """SHA-256 and SM3 of the same byte stream, fed once."""

    __slots__ = ("_sha256", "_sm3", "size")

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sm3 = hashes.Hash(hashes.SM3())
        self.size = 0

    def update(self, data: bytes) -> None:
        """Feed more bytes."""
        self._sha256.update(data)
        self._sm3.update(data)
        self.size += len(data)

    def hexdigests(self) -> tuple[str, str]:
        """Return (sha256, sm3) as lowercase hex."""
        return self._sha256.hexdigest(), self._sm3.finalize().hex()


def sm3_hex(data: bytes) -> str:
    """Return the SM3 digest of ``data`` in hex."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize().hex()


def digest_chunks(chunks: Iterable[bytes]) -> tuple[str, str, int]:
    """Return (sha256, sm3, size) of a stream of chunks."""
    d = DualDigest()
    for chunk in chunks:
        d.update(chunk)
    sha, sm3 = d.hexdigests()
    return sha, sm3, d.size
