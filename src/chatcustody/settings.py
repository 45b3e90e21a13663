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
    request_approval_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="An approved retrieval request expires this many days after approval.",
    )
    request_context_messages: int = Field(
        default=5,
        ge=0,
        le=100,
        description="Messages of context on each side of a keyword match in a request's scope.",
    )
    notify_webhook_url: str | None = Field(
        default=None,
        description="POST a JSON notice of each retrieval-request transition here (optional).",
    )
    notify_smtp_host: str | None = Field(
        default=None,
        description="SMTP server for e-mail notices of retrieval requests (optional).",
    )
    notify_smtp_port: int = Field(
        default=25, ge=1, le=65535, description="Port of the SMTP server for notices."
    )
    notify_smtp_from: str = Field(
        default="chatcustody@localhost", description="Sender address of e-mail notices."
    )
    notify_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="Timeout of one webhook or SMTP notice, in seconds."
    )

    tsa_url: str | None = Field(
        default=None,
        description="RFC 3161 time-stamping authority (http/https URL): evidence packages get "
        "timestamp tokens over SHA256SUMS and SM3SUMS; unset means no timestamps.",
    )
    tsa_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CA certificate(s) the TSA chains to; tokens are checked "
        "against it at export and it is copied into the package. Needed with tsa_url.",
    )
    evidence_key_fingerprint: str | None = Field(
        default=None,
        description="SHA-256 fingerprint of the vault key evidence packages must be signed "
        "with, obtained independently of any package: verify-package pins it unless "
        "--key-fingerprint is given; unset means packages are checked only against the "
        "public key they carry.",
    )


def load_settings() -> Settings:
    """Read settings from the environment (one place, no scattered getenv)."""
    return Settings()
