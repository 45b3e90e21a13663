"""The key hierarchy: passphrase stretching, master key sealing, data key wrapping."""

from __future__ import annotations

import pytest

from chatcustody.crypto import (
    KdfParams,
    Keyring,
    derive_kek,
    new_key,
    open_master_key,
    seal_master_key,
)
from chatcustody.errors import IntegrityError, UsageError, WrongPassphraseError


def test_wrong_passphrase_is_a_clear_error() -> None:
    """A master key sealed under one passphrase does not open under another."""
    params = KdfParams.new(8192, 1)
    master = new_key()
    sealed = seal_master_key(derive_kek("right", params), 1, master)
    assert open_master_key(derive_kek("right", params), 1, sealed) == master
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        open_master_key(derive_kek("wrong", params), 1, sealed)


def test_kdf_params_round_trip_and_empty_passphrase() -> None:
    """Stored KDF parameters reproduce the same key; an empty passphrase is refused."""
    params = KdfParams.new(8192, 1)
    again = KdfParams.from_json(params.to_json())
    assert derive_kek("密码", params) == derive_kek("密码", again)
    with pytest.raises(UsageError):
        derive_kek("", params)


def test_wrapped_key_is_bound_to_its_owner() -> None:
    """A data key wrapped for conversation 1 does not unwrap as conversation 2's."""
    ring = Keyring({1: new_key()}, 1)
    dek = new_key()
    version, sealed = ring.wrap(dek, b"chatcustody/conversation/1")
    assert ring.unwrap(version, sealed, b"chatcustody/conversation/1") == dek
    with pytest.raises(IntegrityError, match="conversation 2 data key"):
        ring.unwrap(version, sealed, b"chatcustody/conversation/2")
    with pytest.raises(IntegrityError, match="master key v9"):
        ring.unwrap(9, sealed, b"chatcustody/conversation/1")
