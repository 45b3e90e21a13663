"""The export endpoint: legal downloads a released request's package; it verifies offline."""

from __future__ import annotations

import zipfile
from pathlib import Path

from chatcustody import requests as rq
from chatcustody.access import local_actor
from chatcustody.evidence import verify_package
from chatcustody.identity import set_supervisor
from chatcustody.requests import Output
from tests.people import NOW, actor, otp
from tests.requests.conftest import form
from tests.web.conftest import Api
from tests.web.conftest import api as api  # noqa: F401 (the fixture)


def test_legal_downloads_a_verifying_package(api: Api, tmp_path: Path) -> None:
    """POST …/export returns a zip that verify-package accepts; others are refused."""
    vault, users = api.vault, api.world.users
    set_supervisor(vault, local_actor(vault), "agent", "team_lead")
    agent = actor(vault, "agent")
    outputs = frozenset({Output.VIEW_ONLY, Output.PACKAGE})
    rid = rq.create_request(vault, agent, form(outputs=outputs)).id
    rq.submit(vault, agent, rid)
    at = NOW + 60_000
    rq.approve(vault, actor(vault, "team_lead", at), rid, otp(users["team_lead"], at))
    rq.request_export(vault, agent, rid, "移交法院")
    rq.review(vault, actor(vault, "legal", at), rid)
    release = f"/api/v1/requests/{rid}/release"
    code = otp(users["legal"], NOW + 30_000)  # the next TOTP step: login used NOW's
    terms = {"otp": code, "recipient": "上海某法院", "redactions": ["pii:fax:非当事人"]}
    bad_rule = api.client.post(release, json=terms, headers=api.headers("legal"))
    assert bad_rule.status_code == 400 and "pii:fax:非当事人" in bad_rule.text
    terms["redactions"] = ["pii:phone:非当事人"]
    released = api.client.post(release, json=terms, headers=api.headers("legal"))
    assert released.status_code == 200, released.text
    assert released.json()["release_terms"]["recipient"] == "上海某法院"
    body = {
        "recipient": "上海某法院",
        "redactions": [{"kind": "pii", "value": "phone", "reason": "非当事人"}],
    }
    url = f"/api/v1/requests/{rid}/export"
    denied = api.client.post(url, json=body, headers=api.headers("team_lead"))
    assert denied.status_code == 403, denied.text
    r = api.client.post(url, json=body, headers=api.headers("legal"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    pkg = tmp_path / "download.zip"
    pkg.write_bytes(r.content)
    assert zipfile.is_zipfile(pkg)
    report = verify_package(pkg)
    assert report.ok, report.failures
    assert report.facts["request_id"] == str(rid)
    assert report.facts["recipient"] == "上海某法院"
    bad = api.client.post(url, json={"recipient": ""}, headers=api.headers("legal"))
    assert bad.status_code == 422
    other = api.client.post(url, json={"recipient": "别处"}, headers=api.headers("agent"))
    assert other.status_code == 400 and "released for recipient" in other.text
    bare = api.client.post(url, json={"redactions": []}, headers=api.headers("agent"))
    assert bare.status_code == 400 and "redaction rule" in bare.text
    plain = api.client.post(url, headers=api.headers("agent"))  # no body: the release terms
    assert plain.status_code == 200, plain.text
