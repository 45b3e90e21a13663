"""Fixtures for evidence packages: a vault with varied records, specs, and a local RFC 3161 TSA.

The TSA is real ``openssl ts -reply`` behind a small HTTP server on 127.0.0.1, with a CA and
a TSA certificate made by the openssl CLI for the test.
"""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chatcustody.evidence import Approval, PackageSpec, Redaction, RequestFacts
from chatcustody.ingest import import_file
from chatcustody.vault import Vault
from tests.conftest import conversation, message, write_jsonl

# Values of a third party that a redacted package must not contain anywhere.
PHONE = "13912345678"
ID_CARD = "11010119900307123X"
OUTSIDER_NAME = "钱路人"
OUTSIDER_ID = "qian_passerby"
ADDRESS = "北京市朝阳区幸福路88号"
IMAGE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def _import(vault: Vault, path: Path) -> None:
    result = import_file(vault, path, None, None)
    assert result.error is None, result.error


@pytest.fixture
def evidence_vault(vault: Vault, tmp_path: Path) -> Vault:
    """Return a vault with 20 chat records, an attachment, a recall, an edit (variant) and PII."""
    base = tmp_path / "exports"
    (base / "media").mkdir(parents=True)
    (base / "media" / "photo.png").write_bytes(IMAGE_BYTES)
    msgs = conversation(16)
    msgs += [
        message(
            message_id="att",
            type="image",
            text="现场照片",
            timestamp=1_773_970_300_000,
            attachments=[{"path": "media/photo.png", "name": "photo.png", "mime": "image/png"}],
        ),
        message(
            message_id="recall", type="recall", text="撤回了一条消息", timestamp=1_773_970_301_000
        ),
        message(
            message_id="pii",
            text=f"路人{OUTSIDER_NAME}的电话 {PHONE}，身份证 {ID_CARD}，住址 {ADDRESS}",
            timestamp=1_773_970_302_000,
        ),
        message(
            message_id="outsider",
            sender_id=OUTSIDER_ID,
            sender_name=OUTSIDER_NAME,
            text="我只是路过。",
            timestamp=1_773_970_303_000,
        ),
    ]
    _import(vault, write_jsonl(base / "first.jsonl", msgs))
    edited = [dict(msgs[3], text="第3条消息（已修改）：巡逻发现异常")]
    _import(vault, write_jsonl(base / "second.jsonl", edited))
    return vault


def make_spec(vault: Vault, **overrides: Any) -> PackageSpec:
    """Return a spec over every record of the vault, with overrides."""
    from sqlalchemy import select

    from chatcustody.store import schema as t

    with vault.engine.connect() as conn:
        ids = tuple(
            int(i) for (i,) in conn.execute(select(t.records.c.id).order_by(t.records.c.id))
        )
    base: dict[str, Any] = {
        "record_ids": ids,
        "request": RequestFacts(
            id="REQ-2026-0007",
            requester="agent_li",
            case="（2026）京0105民初1234号",
            legal_basis="《民事诉讼法》第六十六条",
            reason="客户投诉处理延迟的调查",
            scope={"conversations": [1], "from": "2026-03-20T00:00:00+08:00"},
            approvals=(
                Approval("agent_li", "submit", 1_773_980_000_000, "提交申请"),
                Approval("lead_wang", "approve", 1_773_981_000_000, "同意，TOTP 已验证"),
                Approval("legal_zhou", "release", 1_773_982_000_000, "法务审核通过"),
            ),
        ),
        "recipient": "北京某律师事务所",
        "include_originals": True,
        "actor": "legal_zhou",
    }
    base.update(overrides)
    return PackageSpec(**base)


REDACTIONS = (
    Redaction("pii", "phone", "非案件当事人的电话号码 third party's phone"),
    Redaction("pii", "id_card", "非案件当事人的身份证号 third party's ID card"),
    Redaction("value", ADDRESS, "非案件当事人的住址 third party's address"),
    Redaction("participant", OUTSIDER_ID, "非案件当事人 not party to the case"),
)
WITHHELD_VALUES = (PHONE, ID_CARD, ADDRESS, OUTSIDER_NAME, OUTSIDER_ID)


@dataclass
class LocalTsa:
    """A running local TSA: its URL and the CA certificate file it chains to."""

    url: str
    ca_file: Path
    requests: list[bytes]


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _tsa_dir(d: Path) -> None:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-subj", "/CN=chatcustody test CA", "-days", "30",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
        "-subj", "/CN=chatcustody test TSA",
        cwd=d,
    )  # fmt: skip
    (d / "ext.cnf").write_text(
        "extendedKeyUsage=critical,timeStamping\nkeyUsage=critical,digitalSignature\n"
        "basicConstraints=CA:FALSE\n"
    )
    _openssl(
        "x509", "-req", "-in", "tsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "tsa.crt", "-days", "30", "-extfile", "ext.cnf",
        cwd=d,
    )  # fmt: skip
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(
        f"""[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
dir = {d}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.crt
signer_key = $dir/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
    )


@pytest.fixture
def local_tsa(tmp_path: Path) -> Iterator[LocalTsa]:
    """Serve ``openssl ts -reply`` over HTTP on 127.0.0.1 for the length of one test."""
    d = tmp_path / "tsa"
    d.mkdir()
    _tsa_dir(d)
    seen: list[bytes] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                seen.append(body)
                (d / "q.tsq").write_bytes(body)
                subprocess.run(
                    ["openssl", "ts", "-reply", "-config", "tsa.cnf", "-queryfile", "q.tsq",
                     "-out", "r.tsr"],
                    cwd=d, check=True, capture_output=True,
                )  # fmt: skip
                reply = (d / "r.tsr").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LocalTsa(f"http://127.0.0.1:{server.server_address[1]}/tsa", d / "ca.crt", seen)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def copy_tree(src: Path, dest: Path) -> Path:
    """Copy a package directory (tests tamper with the copy)."""
    import shutil

    shutil.copytree(src, dest)
    return dest


Spec = Callable[..., PackageSpec]
