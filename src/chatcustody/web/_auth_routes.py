"""``/api/v1/auth``: login (bearer token and session cookie), logout, API tokens, whoami."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from chatcustody.access import TOKEN_SCOPES
from chatcustody.errors import AccessDeniedError
from chatcustody.identity import create_token, login, logout
from chatcustody.web._deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    Context,
    CurrentActor,
    client_address,
)
from chatcustody.web._problems import PROBLEMS
from chatcustody.web._types import Code, Name, Secret

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=PROBLEMS)


class LoginIn(BaseModel):
    """Credentials: username, password and the current TOTP code."""

    username: Name
    password: Secret
    otp: Code


class TokenIn(BaseModel):
    """An API token request: its scopes and lifetime in days."""

    scopes: list[Name] = Field(min_length=1, max_length=len(TOKEN_SCOPES))
    days: int = Field(ge=1, le=3650)


@router.post("/login", summary="Log in with password and TOTP")
def post_login(body: LoginIn, request: Request, response: Response, ctx: Context) -> Any:
    """Return a bearer token and set the session and CSRF cookies."""
    at = ctx.clock()
    client = client_address(request)
    ctx.login_limiter.hit(client, at)
    session = login(ctx.vault, body.username, body.password, body.otp, client, at_ms=at)
    max_age = ctx.vault.settings.session_minutes * 60
    secure = ctx.vault.settings.cookie_secure
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE, session.csrf, max_age=max_age, secure=secure, samesite="strict", path="/"
    )
    return session.to_json()


@router.post("/logout", status_code=204, summary="Revoke this session or token")
def post_logout(request: Request, response: Response, actor: CurrentActor, ctx: Context) -> None:
    """Revoke the session or token the request used and clear the cookies."""
    logout(ctx.vault, request.state.token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", summary="Who am I")
def get_me(actor: CurrentActor) -> Any:
    """Return the authenticated actor's name, role, tiers and token scopes."""
    return {
        "username": actor.name,
        "role": actor.role.value if actor.role else None,
        "tiers": sorted(t.value for t in actor.tiers),
        "groups": len(actor.groups),
        "token_scopes": None if actor.token_scopes is None else sorted(actor.token_scopes),
    }


@router.post("/tokens", status_code=201, summary="Create an API token for yourself")
def post_token(body: TokenIn, actor: CurrentActor, ctx: Context) -> Any:
    """Issue an API token with explicit scopes; never more than your own rights."""
    if actor.token_scopes is not None:
        raise AccessDeniedError("an API token cannot create tokens: log in as a person")
    token, expires = create_token(ctx.vault, actor.name, body.scopes, body.days, actor.name)
    return {"token": token, "scopes": sorted(set(body.scopes)), "expires_ms": expires}
