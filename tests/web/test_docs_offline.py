"""/docs and /redoc work without internet: every asset they load is served by the API."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from chatcustody.settings import Settings
from chatcustody.vault import Vault
from chatcustody.web import create_app

_TYPES = {
    ".js": "javascript",
    ".css": "text/css",
    ".png": "image/png",
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """Return a client of the API over a fresh SQLite vault (the docs need no data)."""
    settings = Settings(vault=tmp_path / "v", database_url=None)
    vault = Vault.create(settings.vault, settings, "docs passphrase", "Asia/Shanghai")
    try:
        with TestClient(create_app(vault), base_url="https://testserver") as c:
            yield c
    finally:
        vault.close()


def _asset_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_references_only_local_assets(client: TestClient, page: str) -> None:
    """The docs page names no external host; each script, style and icon is served here."""
    r = client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "http://" not in html and "https://" not in html and "//cdn" not in html
    urls = _asset_urls(html)
    assets = [u for u in urls if u.startswith("/docs-assets/")]
    assert assets, urls
    for url in urls:
        assert url.startswith("/"), f"{page} loads {url} from elsewhere"
    for url in assets:
        got = client.get(url)
        assert got.status_code == 200, url
        want = _TYPES[Path(url).suffix]
        assert want in got.headers["content-type"], (url, got.headers["content-type"])
        assert len(got.content) > 1000
    csp = r.headers["content-security-policy"]
    assert "https:" not in csp and "cdn" not in csp


def test_openapi_schema_still_served(client: TestClient) -> None:
    """The schema the docs page reads is served at the URL the page names."""
    html = client.get("/docs").text
    assert "'/openapi.json'" in html or '"/openapi.json"' in html
    r = client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["title"] == "chatcustody"
