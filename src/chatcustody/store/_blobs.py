"""The blob directory: encrypted, content-addressed files under ``<vault>/blobs``.

A blob is written to a temporary file, flushed and fsynced, then renamed into place and
its directory fsynced: a crash leaves either no file or a whole one, never half a blob.
A blob file whose database row never committed is an orphan: harmless, reported by verify.
The file name is a keyed hash of the plaintext's SHA-256, so identical files are stored
once and the name tells nothing about the content to someone without the vault key.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Final

from chatcustody.crypto import DualDigest, decrypt_stream, encrypt_stream

BLOB_DIR: Final[str] = "blobs"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BlobDir:
    """Encrypted blob files in one directory tree."""

    def __init__(self, vault_dir: Path) -> None:
        self.root = vault_dir / BLOB_DIR

    def path(self, name: str) -> Path:
        """Return where blob ``name`` lives."""
        return self.root / name[:2] / name

    def exists(self, name: str) -> bool:
        """Return True when blob ``name`` has a file."""
        return self.path(name).exists()

    def store(self, key: bytes, name: str, src: IO[bytes]) -> DualDigest:
        """Encrypt ``src`` under ``key`` as blob ``name``; return the plaintext digests."""
        self.root.mkdir(exist_ok=True)
        final = self.path(name)
        final.parent.mkdir(exist_ok=True)
        digest = DualDigest()
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out:
                for plain, encrypted in encrypt_stream(key, name.encode(), src):
                    digest.update(plain)
                    out.write(encrypted)
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(final)
            _fsync_dir(final.parent)
        finally:
            tmp.unlink(missing_ok=True)
        return digest

    def read(self, key: bytes, name: str) -> Iterator[bytes]:
        """Yield the authenticated plaintext chunks of blob ``name``."""
        with self.path(name).open("rb") as src:
            yield from decrypt_stream(key, name.encode(), src, f"blob {name}")

    def names(self) -> Iterator[str]:
        """Yield the name of every blob file present."""
        if not self.root.exists():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir():
                for f in sorted(sub.iterdir()):
                    yield f.name
