"""Key management use cases: rotate the master key, optionally re-encrypt, report ages.

Rotation runs in one transaction: a new master key version is sealed by the passphrase's
KEK, every data key (service keys, conversation keys, blob keys) is rewrapped under it,
and every older version, now unused, is retired — its sealed copy erased, so a stolen
old copy of the key table no longer opens current data. ``--reencrypt`` also gives every
conversation a fresh data key and re-encrypts its records, amendments and title.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from chatcustody._env import now_ms
from chatcustody.audit import append_audit
from chatcustody.crypto import FieldCipher, new_key, seal_master_key
from chatcustody.rows import conversation_aad, row_aad
from chatcustody.store import schema as t
from chatcustody.vault import Vault, key_purpose

_MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class RotateResult:
    """What a rotation did."""

    new_version: int
    rewrapped: int
    reencrypted_records: int
    retired: list[int]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "new_version": self.new_version,
            "rewrapped": self.rewrapped,
            "reencrypted_records": self.reencrypted_records,
            "retired": self.retired,
        }


def _rewrap(vault: Vault, conn: Connection, table: Any, key_col: str, purpose: str) -> int:
    count = 0
    for row in conn.execute(select(table)).mappings().all():
        owner = row[key_col]
        if not row[_sealed_col(table)]:  # crypto-shredded: no key left, only the version moves
            conn.execute(
                update(table)
                .where(table.c[key_col] == owner)
                .values(mk_version=vault.keyring.current)
            )
            continue
        aad = key_purpose(purpose, owner)
        dek = vault.keyring.unwrap(int(row["mk_version"]), bytes(row[_sealed_col(table)]), aad)
        version, sealed = vault.keyring.wrap(dek, aad)
        conn.execute(
            update(table)
            .where(table.c[key_col] == owner)
            .values({"mk_version": version, _sealed_col(table): sealed})
        )
        count += 1
    return count


def _sealed_col(table: Any) -> str:
    return "sealed" if table is t.service_keys else "dek_sealed"


def _reencrypt_conversations(vault: Vault, conn: Connection) -> int:
    records = 0
    for conv in conn.execute(select(t.conversations)).mappings().all():
        if not conv["dek_sealed"]:  # crypto-shredded: nothing can be re-encrypted
            continue
        old = vault.conversation_cipher(conn, int(conv["id"]))
        dek = new_key()
        new = FieldCipher(dek)
        version, sealed = vault.keyring.wrap(dek, key_purpose("conversation", conv["id"]))
        title = old.open(bytes(conv["name_enc"]), conversation_aad(conv), "conversation title")
        conn.execute(
            update(t.conversations)
            .where(t.conversations.c.id == conv["id"])
            .values(
                mk_version=version,
                dek_sealed=sealed,
                name_enc=new.seal(title, conversation_aad(conv)),
            )
        )
        for table, name in ((t.records, "records"), (t.amendments, "amendments")):
            rows = (
                conn.execute(select(table).where(table.c.conversation_id == conv["id"]))
                .mappings()
                .all()
            )
            for row in rows:
                aad = row_aad(name, row)
                plain = old.open(bytes(row["payload"]), aad, f"{name} {row['id']}")
                conn.execute(
                    update(table)
                    .where(table.c.id == row["id"])
                    .values(payload=new.seal(plain, aad))
                )
                records += name == "records"
    vault.forget_ciphers()
    return records


def rotate(vault: Vault, reencrypt: bool = False, actor: str | None = None) -> RotateResult:
    """Create a new master key version, rewrap every data key, retire unused versions."""
    with vault.begin() as conn:
        writer = vault.ledger_writer(conn)
        version = int(conn.execute(select(func.max(t.master_keys.c.version))).scalar_one()) + 1
        master = new_key()
        created = now_ms()
        conn.execute(
            t.master_keys.insert().values(
                version=version,
                sealed=seal_master_key(vault.kek, version, master),
                created_ms=created,
            )
        )
        vault.keyring.add_version(version, master)
        conn.execute(
            update(t.vault_meta)
            .where(t.vault_meta.c.key == "current_master_key")
            .values(value=str(version))
        )
        reencrypted = _reencrypt_conversations(vault, conn) if reencrypt else 0
        rewrapped = (
            _rewrap(vault, conn, t.service_keys, "purpose", "service")
            + _rewrap(vault, conn, t.conversations, "id", "conversation")
            + _rewrap(vault, conn, t.blobs, "id", "blob")
        )
        retired = _retire_unused(conn, version, created)
        append_audit(
            vault,
            conn,
            writer,
            "keys.rotate",
            {
                "new_version": version,
                "rewrapped": rewrapped,
                "reencrypted_records": reencrypted,
                "retired": retired,
            },
            actor,
        )
        writer.commit_head(created)
    return RotateResult(version, rewrapped, reencrypted, retired)


def _retire_unused(conn: Connection, current: int, when: int) -> list[int]:
    in_use: set[int] = {current}
    for table in (t.service_keys, t.conversations, t.blobs):
        in_use.update(int(v) for (v,) in conn.execute(select(table.c.mk_version).distinct()))
    retired = []
    for (version,) in conn.execute(
        select(t.master_keys.c.version).where(t.master_keys.c.retired_ms.is_(None))
    ).all():
        if int(version) not in in_use:
            conn.execute(
                update(t.master_keys)
                .where(t.master_keys.c.version == version)
                .values(retired_ms=when, sealed=b"")
            )
            retired.append(int(version))
    return retired


@dataclass(frozen=True)
class KeyStatus:
    """Age and use of one master key version."""

    version: int
    created_ms: int
    age_days: float
    retired_ms: int | None
    current: bool
    data_keys: int

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "version": self.version,
            "created_ms": self.created_ms,
            "age_days": round(self.age_days, 2),
            "retired_ms": self.retired_ms,
            "current": self.current,
            "data_keys": self.data_keys,
        }


def status(vault: Vault) -> tuple[list[KeyStatus], list[str]]:
    """Return every master key version's status and the warnings that apply."""
    now = now_ms()
    out: list[KeyStatus] = []
    with vault.engine.connect() as conn:
        uses: dict[int, int] = {}
        for table in (t.service_keys, t.conversations, t.blobs):
            for v, n in conn.execute(
                select(table.c.mk_version, func.count()).group_by(table.c.mk_version)
            ):
                uses[int(v)] = uses.get(int(v), 0) + int(n)
        for row in conn.execute(select(t.master_keys).order_by(t.master_keys.c.version)).mappings():
            v = int(row["version"])
            out.append(
                KeyStatus(
                    v,
                    int(row["created_ms"]),
                    (now - int(row["created_ms"])) / _MS_PER_DAY,
                    row["retired_ms"],
                    v == vault.keyring.current,
                    uses.get(v, 0),
                )
            )
    warnings = [
        f"master key v{k.version} is {k.age_days:.0f} days old (rotate every "
        f"{vault.settings.key_max_age_days} days: chatcustody keys rotate)"
        for k in out
        if k.current and k.age_days > vault.settings.key_max_age_days
    ]
    return out, warnings
