"""One typed settings object, read from ``CHATCUSTODY_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting chatcustody reads; the environment prefix is ``CHATCUSTODY_``."""

    model_config = SettingsConfigDict(env_prefix="CHATCUSTODY_", extra="ignore")

    vault: Path = Field(default=Path("vault"), description="Vault directory.")
    passphrase: SecretStr | None = Field(
        default=None,
        description="Vault passphrase; prompted for when unset and a terminal is attached.",
    )
    database_url: str | None = Field(
        default=None,
        description="postgresql://… to keep records, ledger and keys in PostgreSQL; "
        "unset means SQLite inside the vault directory.",
    )
    batch_size: int = Field(default=5000, ge=1, description="Records per ingest transaction.")
    kdf_memory_kib: int = Field(
        default=65536, ge=8, description="argon2id memory cost (KiB) used when a vault is created."
    )
    kdf_iterations: int = Field(
        default=3, ge=1, description="argon2id time cost used when a vault is created."
    )
    default_tz: str = Field(
        default="Asia/Shanghai", description="Default zone for new vaults (zone-less formats)."
    )
    key_max_age_days: int = Field(
        default=90, ge=1, description="keys status warns when a master key is older than this."
    )

    session_minutes: int = Field(
        default=480, ge=1, description="A login session expires this many minutes after login."
    )
    session_idle_minutes: int = Field(
        default=30, ge=1, description="A login session expires after this many idle minutes."
    )
    token_max_days: int = Field(
        default=90, ge=1, description="Longest lifetime of an API token, in days."
    )
    lockout_threshold: int = Field(
        default=5, ge=1, description="Failed logins in a row that lock an account."
    )
    lockout_minutes: int = Field(
        default=15, ge=1, description="Cool-down of a locked account, in minutes."
    )
    login_rate_per_minute: int = Field(
        default=10, ge=1, description="Login attempts one client address may make per minute."
    )
    password_memory_kib: int = Field(
        default=65536, ge=8, description="argon2id memory cost (KiB) of new password hashes."
    )
    password_iterations: int = Field(
        default=3, ge=1, description="argon2id time cost of new password hashes."
    )
    dual_control_minutes: int = Field(
        default=60,
        ge=1,
        description="A dual-control action must be confirmed within this many minutes.",
    )
    cookie_secure: bool = Field(
        default=True, description="Send session cookies only over HTTPS (Secure flag)."
    )
    totp_issuer: str = Field(
        default="chatcustody", description="Issuer shown by authenticator apps for TOTP."
    )


def load_settings() -> Settings:
    """Read settings from the environment (one place, no scattered getenv)."""
    return Settings()
