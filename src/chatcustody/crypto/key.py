"""The key hierarchy: passphrase → KEK → versioned master keys → data keys.

- The passphrase is stretched with argon2id (parameters and salt stored in the vault) into
  a key-encryption key (KEK). It never touches data directly.
- Master keys are random 256-bit keys, one per version, each sealed by the KEK. Rotation
  adds a version and rewraps every data key under it; a version is retired only when no
  data key uses it any more.
- Data keys (one per conversation, one per blob, and the vault's service keys: blind-index
  key, signing key, directory and audit keys) are random and sealed by a master key. The
  AAD of every wrap names the key's purpose and owner, so a wrapped key moved to another
  row does not unwrap.
- Deleting a data key crypto-shreds what it encrypted, everywhere it was copied.
"""

from __future__ import annotations

import hmac
import os
from dataclasses import dataclass
from typing import Any, Final

from argon2.low_level import Type, hash_secret_raw

from chatcustody.crypto._aead import KEY_BYTES, FieldCipher, new_key
from chatcustody.errors import IntegrityError, UsageError, WrongPassphraseError

SALT_BYTES: Final[int] = 16
BLIND_BYTES: Final[int] = 16  # truncated HMAC-SHA256: 128 bits is ample for equality lookups


@dataclass(frozen=True)
class KdfParams:
    """argon2id parameters of a vault, stored beside it in the clear."""

    salt: bytes
    memory_kib: int
    iterations: int
    parallelism: int = 2

    @classmethod
    def new(cls, memory_kib: int, iterations: int) -> KdfParams:
        """Return parameters with a fresh random salt."""
        return cls(os.urandom(SALT_BYTES), memory_kib, iterations)

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in the vault."""
        return {
            "algorithm": "argon2id",
            "salt": self.salt.hex(),
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "parallelism": self.parallelism,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        """Parse the stored JSON form."""
        if data.get("algorithm") != "argon2id":
            raise IntegrityError(f"unknown key derivation {data.get('algorithm')!r}")
        return cls(
            bytes.fromhex(data["salt"]),
            int(data["memory_kib"]),
            int(data["iterations"]),
            int(data["parallelism"]),
        )


def derive_kek(passphrase: str, params: KdfParams) -> bytes:
    """Stretch a passphrase into the key-encryption key."""
    if not passphrase:
        raise UsageError("the vault passphrase is empty")
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        params.salt,
        time_cost=params.iterations,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def master_key_aad(version: int) -> bytes:
    """Return the AAD that binds a sealed master key to its version number."""
    return b"chatcustody/master-key/v%d" % version


def seal_master_key(kek: bytes, version: int, master_key: bytes) -> bytes:
    """Seal a master key with the KEK."""
    return FieldCipher(kek).seal(master_key, master_key_aad(version))


def open_master_key(kek: bytes, version: int, sealed: bytes) -> bytes:
    """Open a sealed master key; a failing tag here means a wrong passphrase."""
    try:
        return FieldCipher(kek).open(sealed, master_key_aad(version), f"master key v{version}")
    except IntegrityError:
        raise WrongPassphraseError(
            "wrong passphrase: it does not open the vault's master key"
        ) from None


class Keyring:
    """The unlocked master keys of an open vault, and wrapping of data keys under them."""

    def __init__(self, master_keys: dict[int, bytes], current: int) -> None:
        if current not in master_keys:
            raise IntegrityError(f"current master key v{current} is missing")
        self._master = {v: FieldCipher(k) for v, k in master_keys.items()}
        self.current = current

    @property
    def versions(self) -> list[int]:
        """Return the master key versions held, oldest first."""
        return sorted(self._master)

    def add_version(self, version: int, key: bytes) -> None:
        """Hold a new master key version and make it current."""
        self._master[version] = FieldCipher(key)
        self.current = version

    def wrap(self, data_key: bytes, purpose: bytes) -> tuple[int, bytes]:
        """Seal a data key under the current master key; return (version, sealed)."""
        return self.current, self._master[self.current].seal(data_key, purpose)

    def unwrap(self, version: int, sealed: bytes, purpose: bytes) -> bytes:
        """Open a data key sealed under master key ``version``."""
        what = purpose.decode().removeprefix("chatcustody/").replace("/", " ") + " data key"
        cipher = self._master.get(version)
        if cipher is None:
            raise IntegrityError(f"{what}: master key v{version} is unknown")
        return cipher.open(sealed, purpose, what)


class Blinder:
    """Keyed hashes (blind indexes) for equality lookups without plaintext."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def blind(self, *parts: str) -> bytes:
        """Return the keyed hash of the parts, separated unambiguously."""
        data = "\x1f".join(parts).encode("utf-8")
        return hmac.digest(self._key, data, "sha256")[:BLIND_BYTES]

    def blind_bytes(self, data: bytes) -> bytes:
        """Return the keyed hash of raw bytes."""
        return hmac.digest(self._key, data, "sha256")[:BLIND_BYTES]


__all__ = [
    "Blinder",
    "KdfParams",
    "Keyring",
    "derive_kek",
    "new_key",
    "open_master_key",
    "seal_master_key",
]
