"""The dashboard's routes: the page and its files, signing in with `/?token=`, the 401 page, and a page
that fetches nothing from the network and never writes server data as markup."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from docbatch.server.auth import COOKIE
from docbatch.server.dashboard import dashboard_router
from docbatch.server.settings import ServerSettings

STATIC = Path(__file__).resolve().parents[3] / "docbatch" / "server" / "static"
TOKEN = "s3cret-token"


def client(tmp_path: Path, token: str | None = None) -> httpx.AsyncClient:
    """The dashboard's routes alone, called in process (starlette's TestClient warns about httpx)."""
    app = FastAPI()
    app.state.settings = ServerSettings(state_dir=tmp_path, token=SecretStr(token) if token else None)
    app.include_router(dashboard_router())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1")


async def test_without_a_token_the_page_and_its_files_are_served(tmp_path: Path) -> None:
    async with client(tmp_path) as web:
        page = await web.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert '<script src="/dashboard/dashboard.js"' in page.text and 'id="runs"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert (await web.get("/dashboard/dashboard.js")).headers["content-type"].startswith("text/javascript")
        assert (await web.get("/dashboard/dashboard.css")).headers["content-type"].startswith("text/css")
        assert (await web.get("/dashboard/index.html")).status_code == 404  # only the listed assets
        assert (await web.get("/dashboard/..%2Fdashboard.py")).status_code == 404
        assert (await web.get("/?token=anything")).headers["location"] == "/"  # nothing to remember: back to /


async def test_a_set_token_is_asked_for_and_a_wrong_one_refused(tmp_path: Path) -> None:
    async with client(tmp_path, TOKEN) as web:
        page = await web.get("/")
        assert page.status_code == 401 and "/?token=YOUR_TOKEN" in page.text and "DOCBATCH_API_TOKEN" in page.text
        wrong = await web.get("/?token=not-it")
        assert (
            wrong.status_code == 401
            and "not the one" in wrong.text
            and COOKIE not in wrong.headers.get("set-cookie", "")
        )
        assert (await web.get("/dashboard/dashboard.js")).status_code == 401


async def test_signing_in_sets_a_strict_http_only_cookie_and_leaves_the_address_bar(tmp_path: Path) -> None:
    async with client(tmp_path, TOKEN) as web:
        signed = await web.get(f"/?token={TOKEN}")
        assert signed.status_code == 303 and signed.headers["location"] == "/"
        cookie = signed.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}={TOKEN};")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never come back
        web.cookies.set(COOKIE, TOKEN)
        assert (await web.get("/")).status_code == 200
        assert (await web.get("/dashboard/dashboard.css")).status_code == 200
    async with client(tmp_path, TOKEN) as other:
        bearer = await other.get("/", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.status_code == 200


@pytest.mark.parametrize("name", ["index.html", "dashboard.js", "dashboard.css"])
def test_the_page_loads_nothing_from_the_network(name: str) -> None:
    text = (STATIC / name).read_text()
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/|@import|url\(", text), name
    assert "@font-face" not in text


def test_server_data_never_becomes_markup() -> None:
    script = (STATIC / "dashboard.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function", script)
