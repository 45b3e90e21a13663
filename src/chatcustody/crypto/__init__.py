"""Cryptography of the vault: AEAD sealing, the key hierarchy, digests.

Primitives (``_aead``, ``_hashes``) are kept apart from key management (``key``).
"""

from __future__ import annotations

from chatcustody.crypto._aead import (
    FieldCipher,
    decrypt_stream,
    encrypt_stream,
    new_key,
)
from chatcustody.crypto._hashes import DualDigest, digest_chunks, sm3_hex
from chatcustody.crypto.key import (
    Blinder,
    KdfParams,
    Keyring,
    derive_kek,
    open_master_key,
    seal_master_key,
)

__all__ = [
    "Blinder",
    "DualDigest",
    "FieldCipher",
    "KdfParams",
    "Keyring",
    "decrypt_stream",
    "derive_kek",
    "digest_chunks",
    "encrypt_stream",
    "new_key",
    "open_master_key",
    "seal_master_key",
    "sm3_hex",
]
