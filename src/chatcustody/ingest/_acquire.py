"""Acquisition: hash an original on arrival, keep its bytes encrypted, log the custody event.

The acquired file is the original evidence: its SHA-256 and SM3 are computed from the
bytes as read, the same bytes are stored byte-identical (encrypted) in the blob store, and
an audit event records who acquired it, when, where, with which tool and how.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, insert, select

from chatcustody._env import environment, now_ms
from chatcustody.audit import append_audit
from chatcustody.crypto import DualDigest, new_key
from chatcustody.crypto._hashes import READ_BYTES
from chatcustody.errors import IntegrityError
from chatcustody.model import canonical_json
from chatcustody.rows import seal_row
from chatcustody.store import schema as t
from chatcustody.vault import Vault, key_purpose, next_id


@dataclass(frozen=True)
class FileDigest:
    """SHA-256, SM3 and size of a byte stream."""

    sha256: str
    sm3: str
    size: int


def digest_stream(stream: IO[bytes]) -> FileDigest:
    """Hash a stream in 1 MiB reads (memory stays flat)."""
    d = DualDigest()
    while chunk := stream.read(READ_BYTES):
        d.update(chunk)
    sha, sm3 = d.hexdigests()
    return FileDigest(sha, sm3, d.size)


def digest_file(path: Path) -> FileDigest:
    """Hash a file."""
    with path.open("rb") as f:
        return digest_stream(f)


@dataclass(frozen=True)
class Original:
    """What is acquired for one import path: a file, or a folder's manifest and members.

    A folder (a Slack export, say) is acquired file by file, each byte-identical; its
    source digest is that of a manifest listing every member's relative path, SHA-256,
    SM3 and size (canonical JSON), which is stored as the source's own blob.
    """

    path: Path
    digest: FileDigest
    manifest: bytes | None = None
    members: tuple[tuple[str, FileDigest], ...] = ()

    def open(self) -> IO[bytes]:
        """Open the bytes that the source digest covers."""
        return io.BytesIO(self.manifest) if self.manifest is not None else self.path.open("rb")


def digest_original(path: Path) -> Original:
    """Hash a file, or every file of a folder and the folder's manifest."""
    if not path.is_dir():
        return Original(path, digest_file(path))
    members = tuple(
        (p.relative_to(path).as_posix(), digest_file(p))
        for p in sorted(path.rglob("*"))
        if p.is_file()
    )
    manifest = canonical_json(
        {
            "format": "chatcustody-folder-manifest",
            "v": 1,
            "files": [
                {"path": rel, "sha256": d.sha256, "sm3": d.sm3, "size": d.size}
                for rel, d in members
            ],
        }
    ).encode("utf-8")
    with io.BytesIO(manifest) as f:
        digest = digest_stream(f)
    return Original(path, digest, manifest, members)


def blob_name(vault: Vault, sha256: str) -> str:
    """Return the blob file name for content with this SHA-256 (a keyed hash: no leak)."""
    return vault.blinder.blind_bytes(b"blob\x1f" + bytes.fromhex(sha256)).hex()


def put_blob(
    vault: Vault, conn: Connection, digest: FileDigest, opener: Callable[[], IO[bytes]]
) -> int:
    """Store content as an encrypted blob unless present; return the blob id."""
    name = blob_name(vault, digest.sha256)
    found = conn.execute(select(t.blobs.c.id).where(t.blobs.c.name == name)).scalar_one_or_none()
    if found is not None:
        return int(found)
    blob_id = next_id(conn, t.blobs)
    dek = new_key()
    with opener() as src:
        written = vault.blobs.store(dek, name, src)
    sha, _ = written.hexdigests()
    if sha != digest.sha256 or written.size != digest.size:
        raise IntegrityError(
            f"the file changed while it was being acquired (SHA-256 {digest.sha256} "
            f"when hashed, {sha} when stored); acquire it again from a stable copy"
        )
    version, sealed = vault.keyring.wrap(dek, key_purpose("blob", blob_id))
    conn.execute(
        insert(t.blobs).values(
            id=blob_id,
            name=name,
            size=digest.size,
            sha256=digest.sha256,
            mk_version=version,
            dek_sealed=sealed,
            created_ms=now_ms(),
        )
    )
    return blob_id


@dataclass(frozen=True)
class AcquiredSource:
    """An original in the vault: its id, digests and import status."""

    id: int
    path: Path
    digest: FileDigest
    status: str
    new: bool

    def to_json(self) -> dict[str, Any]:
        """Return the summary form used in ``import --json``."""
        return {"path": str(self.path), "sha256": self.digest.sha256, "sm3": self.digest.sm3}


def find_source(conn: Connection, sha256: str) -> tuple[int, str] | None:
    """Return (id, status) of the source with this SHA-256, if acquired before."""
    row = conn.execute(
        select(t.sources.c.id, t.sources.c.status).where(t.sources.c.sha256 == sha256)
    ).one_or_none()
    return None if row is None else (int(row.id), str(row.status))


def acquire(
    vault: Vault, original: Original, format_name: str, actor: str | None
) -> AcquiredSource:
    """Store an original and its custody event, or return the one already acquired."""
    path, digest = original.path, original.digest
    with vault.begin() as conn:
        known = find_source(conn, digest.sha256)
        if known is not None:
            return AcquiredSource(known[0], path, digest, known[1], new=False)
        writer = vault.ledger_writer(conn)
        for rel, member in original.members:
            put_blob(vault, conn, member, lambda rel=rel: (path / rel).open("rb"))  # type: ignore[misc]
        blob_id = put_blob(vault, conn, digest, original.open)
        acquired = now_ms()
        source_id = next_id(conn, t.sources)
        env = environment()
        fields = {
            "path": str(path.resolve()),
            "name": path.name,
            "format": format_name,
            "sha256": digest.sha256,
            "sm3": digest.sm3,
            "size": digest.size,
            "kind": "folder" if original.manifest is not None else "file",
            "members": len(original.members),
            "acquired_ms": acquired,
            "method": "file copy into the encrypted blob store, hashed on read",
            **env,
        }
        row: dict[str, Any] = {
            "id": source_id,
            "sha256": digest.sha256,
            "sm3": digest.sm3,
            "size": digest.size,
            "blob_id": blob_id,
            "format": format_name,
            "status": "acquired",
            "acquired_ms": acquired,
        }
        conn.execute(
            insert(t.sources),
            [seal_row("sources", row, fields, vault.service_cipher("sources"), writer)],
        )
        append_audit(
            vault,
            conn,
            writer,
            "source.acquire",
            {"source_id": source_id, **fields},
            actor,
        )
        writer.commit_head(acquired)
    return AcquiredSource(source_id, path, digest, "acquired", new=True)
