"""Sign a vault user in at the command line (password and TOTP), for actions of a role.

The passphrase holder acts as the local admin (every system tier, no content). Actions of a
business role — placing or releasing a legal hold (legal) — need the user themselves: their
password (from ``--password-env VAR`` or a prompt) and a current TOTP code. The session is
closed again when the command ends; both are audit events like an API login.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from chatcustody.access import Actor, local_actor
from chatcustody.errors import UsageError
from chatcustody.identity import login, logout, resolve
from chatcustody.vault import Vault

UserOpt = Annotated[
    str | None,
    typer.Option("--user", help="Act as this vault user (signs in with password and TOTP)."),
]
OtpOpt = Annotated[str | None, typer.Option("--otp", help="The user's current TOTP code.")]
PasswordEnvOpt = Annotated[
    str | None,
    typer.Option("--password-env", help="Take the user's password from this variable."),
]


def _password(user: str, password_env: str | None) -> str:
    if password_env is not None:
        value = os.environ.get(password_env)
        if not value:
            raise UsageError(f"environment variable {password_env} is empty or unset")
        return value
    if not sys.stdin.isatty():
        raise UsageError(f"no password for {user}: pass --password-env VAR or run on a terminal")
    prompted: str = typer.prompt(f"Password of {user}", hide_input=True)
    return prompted


@contextmanager
def acting(
    vault: Vault, user: str | None, otp: str | None, password_env: str | None
) -> Iterator[Actor]:
    """Yield the signed-in user's actor, or the local admin without ``--user``."""
    if user is None:
        yield local_actor(vault)
        return
    if not otp:
        raise UsageError(f"--user {user} needs --otp CODE (the user's current TOTP code)")
    session = login(vault, user, _password(user, password_env), otp, client="cli")
    try:
        yield resolve(vault, session.token, client="cli")
    finally:
        logout(vault, session.token)
