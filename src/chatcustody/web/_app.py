"""The FastAPI application: routes, problem details, security headers.

Stateless apart from the open vault and the in-memory login limiter, so several API
servers can run behind a load balancer over one PostgreSQL vault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

import fastapi_offline
from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from chatcustody import __version__
from chatcustody._env import now_ms
from chatcustody.vault import Vault
from chatcustody.web import (
    _admin_routes,
    _approval_routes,
    _auth_routes,
    _content_routes,
    _evidence_routes,
    _holds_routes,
    _request_routes,
)
from chatcustody.web._deps import AppContext
from chatcustody.web._problems import install
from chatcustody.web._ratelimit import RateLimiter

_API_CSP: Final[str] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# /docs and /redoc load Swagger UI and ReDoc from this server (the pinned fastapi-offline
# package ships the assets): no CDN, so the docs work on a network without internet.
DOCS_ASSETS: Final[str] = "/docs-assets"
_ASSET_DIR: Final[Path] = Path(fastapi_offline.__file__).parent / "static"
_DOCS_CSP: Final[str] = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS: Final[dict[str, str]] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cache-Control": "no-store",
}


def create_app(vault: Vault, clock: Callable[[], int] = now_ms) -> FastAPI:
    """Return the API app serving an open vault (``clock`` is injectable for tests)."""
    app = FastAPI(
        title="chatcustody",
        version=__version__,
        description="Chat records in safe custody: search, read, tag and audit under "
        "role- and time-scoped access. Errors are RFC 9457 problem details.",
        docs_url=None,
        redoc_url=None,
    )
    _offline_docs(app)
    app.state.context = AppContext(vault, clock, RateLimiter(vault.settings.login_rate_per_minute))
    install(app)
    routers = (
        _auth_routes,
        _content_routes,
        _admin_routes,
        _approval_routes,
        _holds_routes,
        _request_routes,
        _evidence_routes,
    )
    for module in routers:
        app.include_router(module.router)
    secure = vault.settings.cookie_secure

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in _HEADERS.items():
            response.headers.setdefault(name, value)
        docs = request.url.path.startswith(("/docs", "/redoc"))
        response.headers["Content-Security-Policy"] = _DOCS_CSP if docs else _API_CSP
        if secure:
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    return app


def _offline_docs(app: FastAPI) -> None:
    """Serve /docs (Swagger UI) and /redoc with their assets from this server."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=_ASSET_DIR), name="docs-assets")
    openapi = app.openapi_url or "/openapi.json"
    redirect = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url=redirect,
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        )

    @app.get(redirect, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
