"""The FastAPI application: routes, problem details, security headers.

Stateless apart from the open vault and the in-memory login limiter, so several API
servers can run behind a load balancer over one PostgreSQL vault.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from fastapi import FastAPI, Request, Response

from chatcustody import __version__
from chatcustody._env import now_ms
from chatcustody.vault import Vault
from chatcustody.web import _admin_routes, _approval_routes, _auth_routes, _content_routes
from chatcustody.web._deps import AppContext
from chatcustody.web._problems import install
from chatcustody.web._ratelimit import RateLimiter

_API_CSP: Final[str] = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# /docs loads Swagger UI from its CDN (FastAPI's default page).
_DOCS_CSP: Final[str] = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; "
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
    )
    app.state.context = AppContext(vault, clock, RateLimiter(vault.settings.login_rate_per_minute))
    install(app)
    for module in (_auth_routes, _content_routes, _admin_routes, _approval_routes):
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
