"""The bearer token: `Authorization: Bearer TOKEN` on every endpoint but /healthz whenever
DOCBATCH_API_TOKEN is set (`docbatch serve` refuses to listen beyond loopback without one).

Browsers cannot set headers on a page load, an EventSource or a WebSocket, so the dashboard signs in
once with `/?token=TOKEN`, which sets an HttpOnly, SameSite=Strict cookie holding the token and
redirects to `/` (the token leaves the address bar and the history). Tokens are compared in
constant time (hmac.compare_digest).
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request, WebSocket, status

from docbatch.server.settings import ServerSettings

COOKIE = "docbatch_token"


def _presented(headers_authorization: str | None, cookie: str | None) -> str | None:
    if headers_authorization:
        scheme, _, value = headers_authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return cookie or None


def token_ok(settings: ServerSettings, authorization: str | None, cookie: str | None) -> bool:
    """True when no token is set, or the one presented (header first, then the cookie) is it."""
    if settings.token is None:
        return True
    presented = _presented(authorization, cookie)
    if presented is None:
        return False
    return hmac.compare_digest(presented.encode(), settings.token.get_secret_value().encode())


def require_token(request: Request) -> None:
    """FastAPI dependency of every protected route: 401 (with `WWW-Authenticate: Bearer`) unless the
    request carries the token."""
    settings: ServerSettings = request.app.state.settings
    if not token_ok(settings, request.headers.get("authorization"), request.cookies.get(COOKIE)):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token (DOCBATCH_API_TOKEN)",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def websocket_allowed(websocket: WebSocket) -> bool:
    """For a WebSocket route before accepting: True when it carries the token; otherwise the
    handshake is refused (close code 1008, policy violation) and False returned."""
    settings: ServerSettings = websocket.app.state.settings
    if token_ok(settings, websocket.headers.get("authorization"), websocket.cookies.get(COOKIE)):
        return True
    await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason="missing or wrong bearer token")
    return False
