"""The dashboard of `docbatch serve`: one page at `/` that shows the runs with their live progress, the
documents the running run is on, recent failures and the queue, kept current from `/v1/events` (SSE).

The page is our own plain HTML, CSS and JavaScript shipped inside the package (docbatch/server/static/):
nothing is fetched from the network, so it works on an air-gapped machine. It reads only the public API
(`/v1/runs`, `/v1/stats`, `/v1/events`), so it can show nothing a client of the API could not see.

Signing in: a browser cannot put a bearer token on a page load or an EventSource, so when
DOCBATCH_API_TOKEN is set, `GET /?token=TOKEN` checks it in constant time, sets the cookie
`docbatch_token` (HttpOnly, SameSite=Strict, Path=/; Secure over https) and redirects (303) to `/`, which
takes the token out of the address bar and the history. Every later request of the page (assets, API
calls, the event stream) carries the cookie, which `require_token` accepts. Without a valid token or
cookie, `/` answers 401 with a page that says how to sign in.
"""

from __future__ import annotations

import functools
import html
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from docbatch.server.auth import COOKIE, require_token, token_ok
from docbatch.server.settings import ServerSettings

# The page's only assets, with their media types; any other name under /dashboard/ is a 404.
ASSETS = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}

# The page loads only its own files and talks only to its own origin; no frames, no inline script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # a first visit carries ?token=: never pass it on
    "Cache-Control": "no-cache",
}


@functools.cache
def _static(name: str) -> bytes:
    """The bytes of one file of docbatch/server/static/ (read once; the files ship in the wheel)."""
    return resources.files("docbatch.server").joinpath("static", name).read_bytes()


def dashboard_router() -> APIRouter:
    """`GET /` (the page, or the sign-in redirect, or the 401 page) and `GET /dashboard/{asset}`."""
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def dashboard_page(request: Request, token: Annotated[str | None, Query()] = None) -> Response:
        settings: ServerSettings = request.app.state.settings
        if token is not None:
            return _sign_in(request, settings, token)
        if not token_ok(settings, request.headers.get("authorization"), request.cookies.get(COOKIE)):
            return _sign_in_page(wrong=False)
        return Response(_static("index.html"), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS)

    @router.get("/dashboard/{asset}", dependencies=[Depends(require_token)])
    async def dashboard_asset(asset: str) -> Response:
        media_type = ASSETS.get(asset)
        if media_type is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail="no such dashboard file")
        return Response(_static(asset), media_type=media_type, headers=SECURITY_HEADERS)

    return router


def _sign_in(request: Request, settings: ServerSettings, token: str) -> Response:
    """`/?token=T`: with the right token (or none needed), the cookie and a 303 to `/`; else the 401 page."""
    if settings.token is None:
        return RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)  # nothing to remember
    if not token_ok(settings, f"Bearer {token}", None):
        return _sign_in_page(wrong=True)
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _sign_in_page(*, wrong: bool) -> Response:
    """The 401 page: self-contained (its assets would need the token too), saying how to sign in."""
    reason = (
        "That token is not the one this server was started with."
        if wrong
        else "This server asks for a token (DOCBATCH_API_TOKEN was set when it started)."
    )
    page = _SIGN_IN_PAGE.format(reason=html.escape(reason))
    headers = {**SECURITY_HEADERS, "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    headers["WWW-Authenticate"] = "Bearer"
    return HTMLResponse(page, status_code=status.HTTP_401_UNAUTHORIZED, headers=headers)


_SIGN_IN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="color-scheme" content="light dark">
<title>docbatch: sign in</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}}
code{{background:rgba(127,127,127,.15);padding:.1rem .3rem;border-radius:.2rem}}</style></head>
<body><h1>docbatch: sign in</h1>
<p>{reason}</p>
<p>Open <code>/?token=YOUR_TOKEN</code> once, with the value of <code>DOCBATCH_API_TOKEN</code>.
The browser then keeps it in a cookie for this server and the address bar goes back to <code>/</code>.</p>
<p>API clients send the header <code>Authorization: Bearer YOUR_TOKEN</code> instead.</p>
</body></html>
"""
