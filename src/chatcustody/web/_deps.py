"""Request context: the open vault, the clock, and the authenticated actor (with CSRF).

A request authenticates with ``Authorization: Bearer <token>`` (scripts, API tokens) or
with the ``cc_session`` cookie set at login (browsers). Cookie-authenticated requests that
change state must echo the CSRF token (``X-CSRF-Token`` header, also in the ``cc_csrf``
cookie), which is an HMAC of the session: a cross-site form cannot know it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from chatcustody.access import Actor
from chatcustody.errors import AccessDeniedError, AuthenticationError
from chatcustody.identity import csrf_token, resolve
from chatcustody.vault import Vault
from chatcustody.web._ratelimit import RateLimiter

SESSION_COOKIE: Final[str] = "cc_session"
CSRF_COOKIE: Final[str] = "cc_csrf"
CSRF_HEADER: Final[str] = "X-CSRF-Token"
_SAFE_METHODS: Final[frozenset[str]] = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="A session token from login, or an API token.")
cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False, description="Browser session.")


@dataclass
class AppContext:
    """What every request handler shares."""

    vault: Vault
    clock: Callable[[], int]
    login_limiter: RateLimiter


def context(request: Request) -> AppContext:
    """Return the app's context."""
    ctx: AppContext = request.app.state.context
    return ctx


def client_address(request: Request) -> str:
    """Return the client's address as the server sees it."""
    return request.client.host if request.client else "unknown"


def current_actor(
    request: Request,
    ctx: Annotated[AppContext, Depends(context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session_cookie: Annotated[str | None, Depends(cookie)],
) -> Actor:
    """Authenticate the request; enforce CSRF for cookie sessions on unsafe methods."""
    if credentials is not None:
        token = credentials.credentials
    elif session_cookie:
        token = session_cookie
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), csrf_token(ctx.vault, token).encode()):
                raise AccessDeniedError(f"missing or wrong {CSRF_HEADER} header (CSRF)")
    else:
        raise AuthenticationError("log in first: send a bearer token or the session cookie")
    actor = resolve(ctx.vault, token, client_address(request), at_ms=ctx.clock())
    request.state.token = token
    return actor


CurrentActor = Annotated[Actor, Depends(current_actor)]
Context = Annotated[AppContext, Depends(context)]
