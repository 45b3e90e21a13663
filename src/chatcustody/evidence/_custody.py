"""``custody.jsonl``: the chain of custody of every original in a package.

Events per original: ``acquired`` (with the original's own ledger entry under ``leaf``),
``stored``, ``verified`` (each vault verification since), ``retrieved`` (reads under the
request, for the scope as a whole: ``source_id`` null) and ``exported``; each with who,
when (UTC ms), tool and version, and host where the vault recorded them.
"""

from __future__ import annotations

import json
from typing import Any

from chatcustody.evidence._collect import Collected
from chatcustody.evidence._redact import Redactor
from chatcustody.evidence._spec import PackageSpec
from chatcustody.model import canonical_json


def custody_rows(
    spec: PackageSpec,
    redactor: Redactor,
    c: Collected,
    items: dict[int, dict[str, Any]],
    exported_ms: int,
    env: dict[str, Any],
) -> list[dict[str, Any]]:
    """Return each original's custody: acquired, stored, verified, retrieved, exported."""
    acquirers = {
        int(e["details"].get("source_id", -1)): e for e in c.audit if e["event"] == "acquired"
    }
    rows: list[dict[str, Any]] = []
    for o in c.sources:
        f = items[o.ref]["fields"]
        acquired_ms = int(o.row["acquired_ms"])
        who = acquirers.get(o.ref)
        # Acquired and stored at once, by the same actor and tool.
        origin = {
            "source_id": o.ref,
            "time_ms": acquired_ms,
            "actor": None if who is None else who["actor"],
            "tool": f.get("tool"),
            "tool_version": f.get("tool_version"),
            "host": f.get("host"),
        }
        rows.append(
            {
                "event": "acquired",
                **origin,
                "os_user": f.get("os_user"),
                "method": f.get("method"),
                "summary": f"SHA-256 {o.row['sha256']} SM3 {o.row['sm3']} {o.row['size']} B",
                "leaf": items[o.ref],
            }
        )
        rows.append(
            {
                "event": "stored",
                **origin,
                "summary": "byte-identical copy in the encrypted blob store (AES-256-GCM)",
            }
        )
        for e in c.audit:
            if e["event"] == "verified" and int(e["ts_ms"]) >= acquired_ms:
                d = e["details"]
                rows.append(
                    {
                        "event": "verified",
                        "source_id": o.ref,
                        "time_ms": int(e["ts_ms"]),
                        "actor": e["actor"],
                        "tool": None,
                        "tool_version": None,
                        "host": None,
                        "summary": f"chatcustody verify: {'OK' if d.get('ok') else 'FAILED'}",
                    }
                )
    for e in c.audit:
        if e["event"] == "retrieved":
            rows.append(
                {
                    "event": "retrieved",
                    "source_id": None,
                    "time_ms": int(e["ts_ms"]),
                    "actor": e["actor"],
                    "tool": None,
                    "tool_version": None,
                    "host": None,
                    "summary": f"{e['action']} under request {spec.request.id}",
                }
            )
    for o in c.sources:
        rows.append(
            {
                "event": "exported",
                "source_id": o.ref,
                "time_ms": exported_ms,
                "actor": spec.actor,
                "tool": env["tool"],
                "tool_version": env["tool_version"],
                "host": env["host"],
                "os_user": env["os_user"],
                "summary": redactor.mask(
                    f"evidence package for request {spec.request.id} to {spec.recipient}"
                ),
            }
        )
    return rows


def masked_request(spec: PackageSpec, redactor: Redactor) -> dict[str, Any]:
    """Return the request facts with every redaction rule applied to its free text."""
    req = spec.request.to_json()
    mask = redactor.mask
    out = {k: (mask(v) if isinstance(v, str) else v) for k, v in req.items()}
    out["scope"] = json.loads(mask(canonical_json(req["scope"])))
    out["approvals"] = [
        {k: (mask(v) if isinstance(v, str) else v) for k, v in a.items()} for a in req["approvals"]
    ]
    return out
