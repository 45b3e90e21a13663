"""The one-pass leaf builder gives exactly the documented leaf bytes."""

from __future__ import annotations

import os
import random
from typing import Any

from chatcustody.ledger import commit_inner, commitments, leaf_bytes, leaf_data, leaf_from_inner


def _random_value(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -17,
            2**40,
            1.5,
            "",
            '护卫队"值班"\n\t\\ ✅ \u2028',
            "plain ascii",
            [],
            [{"name": "现场.jpg", "size": 3, "sha256": None}],
            {"b": 1, "a": [1, "二"]},
        ]
    )


def test_leaf_bytes_equals_leaf_data_of_commitments() -> None:
    """For random field sets and values, leaf_bytes == leaf_data(kind, ref, commitments)."""
    rng = random.Random(7)
    for _ in range(300):
        names = rng.sample(["text", "raw", "type", "a", "z", "sender_name", "ts", "attachments"], 5)
        fields = {n: _random_value(rng) for n in names[: rng.randint(0, 5)]}
        seed = os.urandom(16)
        kind, ref = rng.choice(["record", "audit", "event"]), rng.randrange(10**9)
        expected = leaf_data(kind, ref, commitments(seed, fields))
        assert leaf_bytes(kind, ref, seed, fields) == expected
        assert leaf_from_inner(kind, ref, commit_inner(seed, fields)) == expected
