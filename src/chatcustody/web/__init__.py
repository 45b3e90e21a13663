"""The REST API (FastAPI): a thin adapter over the library; the only place that knows HTTP."""

from __future__ import annotations

from fastapi import FastAPI

from chatcustody.settings import load_settings
from chatcustody.vault import Vault
from chatcustody.web._app import create_app


def app_from_environment() -> FastAPI:
    """Open the vault named by CHATCUSTODY_VAULT / _PASSPHRASE and serve it (server workers)."""
    settings = load_settings()
    secret = settings.passphrase.get_secret_value() if settings.passphrase else ""
    return create_app(Vault.open(settings.vault, settings, secret))


__all__ = ["app_from_environment", "create_app"]
