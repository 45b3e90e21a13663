"""The ``access`` service key's three uses: sealing, row MACs and blind names.

- Sealed values (display names, e-mails, TOTP secrets, group and tag names, dual-control
  parameters) are AES-256-GCM with an AAD naming their table, row and column, so a sealed
  value moved to another row fails authentication.
- Rows that grant rights (users, group memberships) carry an HMAC-SHA256 over their
  granting columns: a role, tier, password hash or membership written into the database
  by hand does not verify, and is refused loudly (IntegrityError), never obeyed.
- Names looked up by equality (groups, tags) are stored as keyed hashes of their
  normalised form (NFKC, case-folded, trimmed).
"""

from __future__ import annotations

import hmac
import json
import unicodedata
from typing import Any

from chatcustody.crypto import Blinder
from chatcustody.errors import IntegrityError
from chatcustody.vault import Vault


def normalise_name(name: str) -> str:
    """Return the lookup form of a group or tag name."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def blind_name(vault: Vault, kind: str, name: str) -> bytes:
    """Return the keyed hash of a name of ``kind`` (``group``, ``tag``)."""
    return Blinder(vault.service["access"]).blind(kind, normalise_name(name))


def row_mac(vault: Vault, table: str, *parts: object) -> bytes:
    """Return the HMAC binding a row's granting columns."""
    data = "\x1f".join([table, *("" if p is None else str(p) for p in parts)]).encode()
    return hmac.digest(vault.service["access"], data, "sha256")


def check_mac(vault: Vault, mac: bytes, table: str, *parts: object) -> None:
    """Raise IntegrityError when a row's MAC does not match its columns."""
    if not hmac.compare_digest(bytes(mac), row_mac(vault, table, *parts)):
        raise IntegrityError(f"{table} row {parts[0]}: its MAC does not match (edited by hand?)")


def seal_value(vault: Vault, aad: bytes, value: Any) -> bytes:
    """Seal a JSON value with the access key, bound to ``aad``."""
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return vault.service_cipher("access").seal(plain, aad)


def open_value(vault: Vault, aad: bytes, sealed: bytes, what: str) -> Any:
    """Open a value sealed by ``seal_value``."""
    return json.loads(vault.service_cipher("access").open(bytes(sealed), aad, what))
