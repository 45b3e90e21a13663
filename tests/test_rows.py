"""Sealed-row payloads read back to exactly the values their leaf commits to."""

from __future__ import annotations

from typing import Any

import pytest

from chatcustody.ledger import commit_inner
from chatcustody.rows import parse_payload, prepare_fields


@pytest.mark.parametrize(
    "value",
    [
        2**64,
        2**63,
        -(2**63) - 1,
        10**30,
        [{"size": 2**70, "name": "大文件.zip"}],
        1.5,
        -0.0,
        "12345678901234567890 in the text, not a number",
        "１２３４５６７８９０１２３４５６７８９０ full-width digits",
        None,
        {"nested": {"deep": [1, 2, 3]}},
    ],
)
def test_payload_round_trip_keeps_each_value_and_its_commitment(value: Any) -> None:
    """An integer beyond 64 bits must come back as that integer (orjson alone reads a float),
    so the recomputed commitment equals the stored one."""
    fields = {"v": value, "text": "值班记录 ✅"}
    seed, inner, payload = prepare_fields(fields)
    parsed = parse_payload(payload)
    assert parsed["fields"] == fields
    assert type(parsed["fields"]["v"]) is type(value)
    assert commit_inner(seed, parsed["fields"]) == inner


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_numbers_are_refused_before_anything_is_sealed(value: float) -> None:
    """JSON has no NaN or infinity: committing to one would not survive a round trip."""
    with pytest.raises(ValueError):
        prepare_fields({"v": value})


def test_malformed_payload_is_a_value_error() -> None:
    """A payload that is not JSON raises ValueError, which open_row reports as malformed."""
    with pytest.raises(ValueError):
        parse_payload(b"{not json")
