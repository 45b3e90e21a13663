"""Passwords (argon2id) and TOTP (RFC 6238): hashing, checking, enrolment, QR codes.

TOTP codes are six digits over 30-second steps; a code is accepted for the current step
and one step either side (clock drift). Replay refusal is the caller's job: it records
the last accepted step per user and accepts only later steps (``_users.claim_step``).
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from typing import Final

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatcustody.settings import Settings

STEP_SECONDS: Final[int] = 30
DRIFT_STEPS: Final[int] = 1
PASSWORD_BYTES: Final[int] = 12  # 16 URL-safe characters for generated passwords
MIN_PASSWORD_CHARS: Final[int] = 10
# A fixed hash to spend the same time on unknown users (defends against username probing).
_DUMMY_PASSWORD: Final[str] = "not a real password"
_DUMMIES: dict[tuple[int, int], str] = {}


def hasher(settings: Settings) -> PasswordHasher:
    """Return the argon2id hasher configured by the settings."""
    return PasswordHasher(
        time_cost=settings.password_iterations,
        memory_cost=settings.password_memory_kib,
        parallelism=1,
    )


def new_password() -> str:
    """Return a random initial password."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def hash_password(settings: Settings, password: str) -> str:
    """Return the argon2id hash string of a password (parameters and salt included)."""
    return hasher(settings).hash(password)


def check_password(settings: Settings, encoded: str | None, password: str) -> bool:
    """Return True when ``password`` matches; spend the same effort when there is no hash."""
    ph = hasher(settings)
    if encoded is None:
        params = (settings.password_memory_kib, settings.password_iterations)
        dummy = _DUMMIES.get(params) or _DUMMIES.setdefault(params, ph.hash(_DUMMY_PASSWORD))
        with contextlib.suppress(VerificationError):
            ph.verify(dummy, password + "\0")
        return False
    try:
        return ph.verify(encoded, password)
    except (VerificationError, InvalidHashError):
        return False


def new_totp_secret() -> str:
    """Return a fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32()


def otpauth_uri(secret: str, username: str, issuer: str) -> str:
    """Return the ``otpauth://`` URI an authenticator app enrols from."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=username, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """Return an SVG QR code of an enrolment URI."""
    return str(segno.make(uri, error="m").svg_inline(scale=4))


def step_of(at_ms: int) -> int:
    """Return the TOTP step (counter) holding an instant."""
    return at_ms // 1000 // STEP_SECONDS


def code_at(secret: str, at_ms: int) -> str:
    """Return the code an authenticator shows at ``at_ms`` (tests, demo)."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).generate_otp(step_of(at_ms))


def matching_step(secret: str, code: str, at_ms: int) -> int | None:
    """Return the step whose code equals ``code`` (now, then ±1 step), or None."""
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now = step_of(at_ms)
    for step in (now, now - DRIFT_STEPS, now + DRIFT_STEPS):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None
