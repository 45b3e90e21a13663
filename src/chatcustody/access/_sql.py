"""A scope as SQL: the conditions that confine a query on ``records`` before decryption.

Every reader (conversation pages, timelines, a request's record list) applies the scope
through these conditions, so nothing outside it is ever fetched. An explicit record-id set
(a keyword scope) travels as one parameter whatever its size: a JSON array read by
``json_each`` on SQLite, a ``BIGINT[]`` on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ARRAY, BigInteger, ColumnElement, any_, bindparam, text

from chatcustody.access._model import Scope
from chatcustody.store import schema as t


def ids_in(column: Any, ids: Iterable[int], dialect: str) -> ColumnElement[bool]:
    """Return ``column IN ids`` with the ids bound as one parameter."""
    values = sorted(ids)
    if dialect == "sqlite":
        inner = (
            text("SELECT value FROM json_each(:scope_ids)")
            .bindparams(scope_ids=json.dumps(values))
            .columns(value=BigInteger)
        )
        return column.in_(inner)  # type: ignore[no-any-return]
    array = bindparam("scope_ids", values, type_=ARRAY(BigInteger))
    return column == any_(array)  # type: ignore[no-any-return]


def scope_conditions(scope: Scope, dialect: str) -> list[ColumnElement[bool]]:
    """Return the conditions on ``records`` that keep a query inside ``scope``."""
    c = t.records.c
    out: list[ColumnElement[bool]] = []
    if scope.conversations is not None:
        out.append(c.conversation_id.in_(sorted(scope.conversations)))
    if scope.after_ms is not None:
        out.append(c.ts_ms >= scope.after_ms)
    if scope.before_ms is not None:
        out.append(c.ts_ms < scope.before_ms)
    if scope.participants is not None:
        out.append(c.sender_id.in_(sorted(scope.participants)))
    if scope.types is not None:
        out.append(c.type.in_(sorted(scope.types)))
    if scope.record_ids is not None:
        out.append(ids_in(c.id, scope.record_ids, dialect))
    return out
