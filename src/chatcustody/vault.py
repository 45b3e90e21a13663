"""Create and open a vault: its directory, database, key hierarchy and ledger signer.

On-disk layout (see docs/format.md)::

    <vault>/vault.json   clear facts: format, vault id, backend, creation time
    <vault>/vault.db     SQLite database (absent when PostgreSQL holds the tables)
    <vault>/blobs/xx/…   encrypted blobs: acquired originals and attachments

``vault.json`` is written last, atomically: a directory without it is not a vault.
"""

from __future__ import annotations

import json
import os
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Connection, Engine, func, insert, inspect, select

from chatcustody import ledger
from chatcustody._env import now_ms
from chatcustody.crypto import (
    Blinder,
    FieldCipher,
    KdfParams,
    Keyring,
    derive_kek,
    new_key,
    open_master_key,
    seal_master_key,
)
from chatcustody.errors import (
    IntegrityError,
    ShreddedError,
    UsageError,
    VaultExistsError,
    VaultNotFoundError,
)
from chatcustody.model import canonical_json
from chatcustody.settings import Settings
from chatcustody.store import SQLITE_FILE, BlobDir, engine_url, make_engine, migrate
from chatcustody.store import schema as t

VAULT_FILE: Final[str] = "vault.json"
VAULT_FORMAT: Final[str] = "chatcustody-vault"
VAULT_FORMAT_VERSION: Final[int] = 1
# Service keys, each a random 256-bit key sealed by the current master key.
SERVICE_KEYS: Final[tuple[str, ...]] = (
    "search",
    "index",
    "signing",
    "directory",
    "sources",
    "events",
    "audit",
    "access",
)


def key_purpose(kind: str, ident: int | str) -> bytes:
    """Return the AAD naming a wrapped data key's purpose and owner."""
    return f"chatcustody/{kind}/{ident}".encode()


def check_zone(name: str) -> ZoneInfo:
    """Return the zone named ``name`` or raise a UsageError saying it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(
            f"unknown time zone {name!r} (use an IANA name like Asia/Shanghai)"
        ) from None


@dataclass
class Vault:
    """An open, unlocked vault. Close it with ``close()`` or use it as a context manager."""

    path: Path
    vault_id: str
    engine: Engine
    settings: Settings
    keyring: Keyring
    kdf: KdfParams
    kek: bytes
    service: dict[str, bytes]
    default_tz: str
    blobs: BlobDir
    _ciphers: dict[Any, FieldCipher] = field(default_factory=dict)
    _writer: Engine | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def create(cls, path: Path, settings: Settings, passphrase: str, tz: str) -> Vault:
        """Create a new vault at ``path``; refuse when one is already there."""
        check_zone(tz)
        if (path / VAULT_FILE).exists():
            raise VaultExistsError(f"a vault already exists at {path}")
        if not settings.database_url and (path / SQLITE_FILE).exists():
            raise VaultExistsError(
                f"{path / SQLITE_FILE} exists without {VAULT_FILE}: an interrupted init; "
                "remove the directory and run init again"
            )
        path.mkdir(parents=True, exist_ok=True)
        engine = make_engine(engine_url(path, settings.database_url), writer=True)
        if inspect(engine).has_table("vault_meta"):
            engine.dispose()
            raise VaultExistsError("the database already holds a vault")
        migrate(engine)
        vault_id = str(uuid.uuid4())
        kdf = KdfParams.new(settings.kdf_memory_kib, settings.kdf_iterations)
        kek = derive_kek(passphrase, kdf)
        master = new_key()
        created = now_ms()
        service = {purpose: new_key() for purpose in SERVICE_KEYS}
        keyring = Keyring({1: master}, 1)
        with engine.begin() as conn:
            conn.execute(
                insert(t.master_keys).values(
                    version=1, sealed=seal_master_key(kek, 1, master), created_ms=created
                )
            )
            meta = {
                "vault_id": vault_id,
                "kdf": json.dumps(kdf.to_json()),
                "current_master_key": "1",
                "default_tz": tz,
                "created_ms": str(created),
            }
            conn.execute(insert(t.vault_meta), [{"key": k, "value": v} for k, v in meta.items()])
            for purpose, key in service.items():
                version, sealed = keyring.wrap(key, key_purpose("service", purpose))
                conn.execute(
                    insert(t.service_keys).values(
                        purpose=purpose, mk_version=version, sealed=sealed, created_ms=created
                    )
                )
            ledger.init_state(conn)
        facts = {
            "format": VAULT_FORMAT,
            "version": VAULT_FORMAT_VERSION,
            "vault_id": vault_id,
            "backend": "postgresql" if settings.database_url else "sqlite",
            "created_ms": created,
        }
        _write_atomic(path / VAULT_FILE, json.dumps(facts, indent=2).encode() + b"\n")
        engine.dispose()
        engine = make_engine(engine_url(path, settings.database_url))
        return cls(path, vault_id, engine, settings, keyring, kdf, kek, service, tz, BlobDir(path))

    @classmethod
    def open(cls, path: Path, settings: Settings, passphrase: str) -> Vault:
        """Open and unlock the vault at ``path``."""
        facts_file = path / VAULT_FILE
        if not facts_file.exists():
            raise VaultNotFoundError(
                f"no vault at {path} (run 'chatcustody init' or pass --vault DIR)"
            )
        facts = json.loads(facts_file.read_text("utf-8"))
        if facts.get("format") != VAULT_FORMAT:
            raise VaultNotFoundError(f"{facts_file} is not a chatcustody vault")
        backend = "postgresql" if settings.database_url else "sqlite"
        if facts.get("backend") != backend:
            raise UsageError(
                f"the vault at {path} keeps its tables in {facts.get('backend')}; "
                + (
                    "set CHATCUSTODY_DATABASE_URL to its PostgreSQL URL"
                    if facts.get("backend") == "postgresql"
                    else "unset CHATCUSTODY_DATABASE_URL"
                )
            )
        writer = make_engine(engine_url(path, settings.database_url), writer=True)
        try:
            migrate(writer)
        finally:
            writer.dispose()
        engine = make_engine(engine_url(path, settings.database_url))
        try:
            with engine.connect() as conn:
                meta = dict(conn.execute(select(t.vault_meta.c.key, t.vault_meta.c.value)).all())
                if meta.get("vault_id") != facts["vault_id"]:
                    raise IntegrityError(
                        f"the database holds vault {meta.get('vault_id')}, "
                        f"but {facts_file} names {facts['vault_id']}"
                    )
                kdf = KdfParams.from_json(json.loads(meta["kdf"]))
                kek = derive_kek(passphrase, kdf)
                masters = {
                    int(r.version): open_master_key(kek, int(r.version), bytes(r.sealed))
                    for r in conn.execute(
                        select(t.master_keys).where(t.master_keys.c.retired_ms.is_(None))
                    )
                }
                keyring = Keyring(masters, int(meta["current_master_key"]))
                service = {
                    r.purpose: keyring.unwrap(
                        int(r.mk_version), bytes(r.sealed), key_purpose("service", r.purpose)
                    )
                    for r in conn.execute(select(t.service_keys))
                }
        except BaseException:
            engine.dispose()
            raise
        missing = [p for p in SERVICE_KEYS if p not in service]
        if missing:
            # A vault made by an older version lacks keys added since: create them once.
            with engine.begin() as conn:
                for purpose in missing:
                    service[purpose] = new_key()
                    version, sealed = keyring.wrap(
                        service[purpose], key_purpose("service", purpose)
                    )
                    conn.execute(
                        insert(t.service_keys).values(
                            purpose=purpose, mk_version=version, sealed=sealed, created_ms=now_ms()
                        )
                    )
        return cls(
            path,
            facts["vault_id"],
            engine,
            settings,
            keyring,
            kdf,
            kek,
            service,
            meta["default_tz"],
            BlobDir(path),
        )

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()
        if self._writer is not None:
            self._writer.dispose()

    def begin(self) -> AbstractContextManager[Connection]:
        """Start a write transaction (on SQLite it holds the write lock from its start)."""
        if self.engine.dialect.name != "sqlite":
            return self.engine.begin()
        if self._writer is None:
            self._writer = make_engine(str(self.engine.url), writer=True)
        return self._writer.begin()

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- keys ------------------------------------------------------------------------------

    @property
    def blinder(self) -> Blinder:
        """Return the keyed hasher for blind lookups."""
        return Blinder(self.service["index"])

    @property
    def signer(self) -> Ed25519PrivateKey:
        """Return the ledger's Ed25519 signing key."""
        return Ed25519PrivateKey.from_private_bytes(self.service["signing"])

    @property
    def public_key(self) -> Ed25519PublicKey:
        """Return the ledger's public verification key."""
        return self.signer.public_key()

    def public_pem(self) -> bytes:
        """Return the public key as SubjectPublicKeyInfo PEM (what openssl reads)."""
        return self.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)

    def service_cipher(self, purpose: str) -> FieldCipher:
        """Return the field cipher of a service key."""
        c = self._ciphers.get(purpose)
        if c is None:
            c = self._ciphers[purpose] = FieldCipher(self.service[purpose])
        return c

    def conversation_cipher(self, conn: Connection, conversation_id: int) -> FieldCipher:
        """Return the field cipher of a conversation's data key."""
        cache_key = ("conversation", conversation_id)
        c = self._ciphers.get(cache_key)
        if c is None:
            row = conn.execute(
                select(t.conversations.c.mk_version, t.conversations.c.dek_sealed).where(
                    t.conversations.c.id == conversation_id
                )
            ).one_or_none()
            if row is None:
                raise IntegrityError(f"conversation {conversation_id} is missing")
            if not row.dek_sealed:  # emptied by shred.py: the data key no longer exists
                raise ShreddedError(
                    f"conversation {conversation_id} was crypto-shredded: its data key was "
                    "destroyed and its records can never be decrypted again"
                )
            dek = self.keyring.unwrap(
                int(row.mk_version),
                bytes(row.dek_sealed),
                key_purpose("conversation", conversation_id),
            )
            c = self._ciphers[cache_key] = FieldCipher(dek)
        return c

    def remember_cipher(self, conversation_id: int, dek: bytes) -> FieldCipher:
        """Cache the cipher of a conversation created in this process."""
        c = self._ciphers[("conversation", conversation_id)] = FieldCipher(dek)
        return c

    def forget_ciphers(self) -> None:
        """Drop cached data-key ciphers (after rotation or a rolled-back transaction)."""
        self._ciphers.clear()

    def blob_key(self, blob_id: int, mk_version: int, sealed: bytes) -> bytes:
        """Unwrap a blob's data key."""
        return self.keyring.unwrap(mk_version, sealed, key_purpose("blob", blob_id))

    def ledger_writer(self, conn: Connection) -> ledger.LedgerWriter:
        """Start appending to the ledger inside ``conn``'s transaction."""
        return ledger.LedgerWriter(conn, self.signer, self.vault_id)


def next_id(conn: Connection, table: Any) -> int:
    """Return the next free id of ``table`` (callers hold the ledger write lock)."""
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def dumps_bytes(value: Any) -> bytes:
    """Return canonical JSON bytes (the plaintext form of every sealed JSON field)."""
    return canonical_json(value).encode("utf-8")
