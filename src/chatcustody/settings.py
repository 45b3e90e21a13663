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


def load_settings() -> Settings:
    """Read settings from the environment (one place, no scattered getenv)."""
    return Settings()
