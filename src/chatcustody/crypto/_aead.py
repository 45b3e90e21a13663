"""AES-256-GCM sealing of fields and streaming encryption of blobs.

Sealed field layout (bytes)::

    0      1 byte   format version, 0x01
    1     12 bytes  random nonce
    13     n bytes  AES-256-GCM ciphertext followed by its 16-byte tag

The caller's associated data (AAD) binds a ciphertext to its place (table, row id and the
row's clear columns), so a ciphertext copied to another row, or a row whose clear columns
were edited, fails authentication instead of decrypting to a plausible lie.

Blob file layout (bytes)::

    0      8 bytes  magic b"CCBLOB01"
    8      8 bytes  random nonce prefix
    16     4 bytes  chunk size in bytes, big-endian (plaintext per chunk)
    20     ...      chunks: AES-256-GCM(ciphertext ‖ tag) of each plaintext chunk

Chunk ``i`` uses nonce ``prefix ‖ i (4 bytes, big-endian)`` and AAD
``blob name ‖ header (20 bytes) ‖ i (8 bytes) ‖ final flag (1 byte)``. The final flag
defends against truncation (dropping trailing chunks leaves no chunk marked final), the
counter against reordering, the name against swapping two blob files, and the header in
the AAD against editing the chunk size. An empty blob is one empty final chunk.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from typing import IO, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from chatcustody.errors import IntegrityError

FIELD_VERSION: Final[int] = 1
NONCE_BYTES: Final[int] = 12
TAG_BYTES: Final[int] = 16
KEY_BYTES: Final[int] = 32
BLOB_MAGIC: Final[bytes] = b"CCBLOB01"
BLOB_CHUNK_BYTES: Final[int] = 1 << 20
_BLOB_HEADER = struct.Struct(">8s8sI")


def new_key() -> bytes:
    """Return a fresh random 256-bit key."""
    return os.urandom(KEY_BYTES)


class FieldCipher:
    """Seal and open small values with one AES-256-GCM key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt ``plaintext`` bound to ``aad``; return the sealed field."""
        nonce = os.urandom(NONCE_BYTES)
        return b"\x01" + nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes, what: str) -> bytes:
        """Authenticate and decrypt a sealed field; raise IntegrityError naming ``what``."""
        if len(sealed) < 1 + NONCE_BYTES + TAG_BYTES or sealed[0] != FIELD_VERSION:
            raise IntegrityError(f"{what}: ciphertext is malformed")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], aad)
        except InvalidTag:
            raise IntegrityError(f"{what}: ciphertext fails authentication") from None


def encrypt_stream(
    key: bytes, name: bytes, src: IO[bytes], chunk_bytes: int = BLOB_CHUNK_BYTES
) -> Iterator[tuple[bytes, bytes]]:
    """Yield ``(plaintext_chunk, encrypted_bytes)`` pairs; the first pair carries the header.

    Reads ``src`` one chunk ahead so the last chunk can be flagged final; memory stays at
    two chunks whatever the size of the stream.
    """
    aead = AESGCM(key)
    prefix = os.urandom(8)
    header = _BLOB_HEADER.pack(BLOB_MAGIC, prefix, chunk_bytes)
    yield b"", header
    index = 0
    current = src.read(chunk_bytes)
    while True:
        following = src.read(chunk_bytes) if len(current) == chunk_bytes else b""
        final = not following
        nonce = prefix + struct.pack(">I", index)
        aad = name + header + struct.pack(">QB", index, 1 if final else 0)
        yield current, aead.encrypt(nonce, current, aad)
        if final:
            return
        current = following
        index += 1


def decrypt_stream(key: bytes, name: bytes, src: IO[bytes], what: str) -> Iterator[bytes]:
    """Yield the plaintext chunks of a blob file, authenticating each; raise IntegrityError."""
    header = src.read(_BLOB_HEADER.size)
    if len(header) != _BLOB_HEADER.size:
        raise IntegrityError(f"{what}: blob header is truncated")
    magic, prefix, chunk_bytes = _BLOB_HEADER.unpack(header)
    if magic != BLOB_MAGIC or chunk_bytes <= 0 or chunk_bytes > 1 << 30:
        raise IntegrityError(f"{what}: blob header is malformed")
    aead = AESGCM(key)
    frame = chunk_bytes + TAG_BYTES
    index = 0
    current = src.read(frame)
    while True:
        following = src.read(frame)
        final = not following
        if len(current) < TAG_BYTES or (not final and len(current) != frame):
            raise IntegrityError(f"{what}: chunk {index} is truncated")
        nonce = prefix + struct.pack(">I", index)
        aad = name + header + struct.pack(">QB", index, 1 if final else 0)
        try:
            yield aead.decrypt(nonce, current, aad)
        except InvalidTag:
            raise IntegrityError(f"{what}: chunk {index} fails authentication") from None
        if final:
            return
        current = following
        index += 1
