"""Request field types shared by the routes: bounded, printable text and ids."""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import Field, StringConstraints

# No control characters: they have no place in names or queries, and NUL breaks PostgreSQL.
PRINTABLE: Final[str] = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
MAX_ID: Final[int] = 2**63 - 1

Name = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=PRINTABLE)]
Text = Annotated[str, StringConstraints(max_length=1000, pattern=PRINTABLE)]
Secret = Annotated[str, StringConstraints(max_length=256, pattern=PRINTABLE)]
Code = Annotated[str, StringConstraints(max_length=16, pattern=PRINTABLE)]
MAX_SMALL_ID: Final[int] = 2**31 - 1  # conversations, groups, approvals: INTEGER columns
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
SmallId = Annotated[int, Field(ge=1, le=MAX_SMALL_ID)]
