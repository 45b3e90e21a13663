"""Docs that can't drift: every command and every setting is documented."""

from __future__ import annotations

from pathlib import Path

import typer.main

from chatcustody.cli import app
from chatcustody.importers import REGISTRY
from chatcustody.settings import Settings

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    names = []
    for name, cmd in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        names.extend(f"{name} {s}" for s in sub) if sub else names.append(name)
    return names


def test_every_command_is_in_both_user_guides() -> None:
    """Each CLI command appears in the English and the Chinese user guide."""
    for guide in ("user-guide.md", "user-guide.zh-CN.md"):
        text = (DOCS / guide).read_text("utf-8")
        missing = [c for c in _commands() if f"chatcustody {c}" not in text]
        assert not missing, f"{guide} lacks {missing}"


def test_every_setting_is_documented() -> None:
    """Each CHATCUSTODY_* setting appears in the user guide."""
    text = (DOCS / "user-guide.md").read_text("utf-8")
    missing = [f for f in Settings.model_fields if f"CHATCUSTODY_{f.upper()}" not in text]
    assert not missing


def test_every_format_has_a_page() -> None:
    """Each import format has its own page under docs/formats/."""
    pages = {p.stem for p in (DOCS / "formats").glob("*.md")}
    text = " ".join((DOCS / "formats" / f"{p}.md").read_text("utf-8") for p in pages)
    missing = [name for name in REGISTRY if name not in pages and f"`{name}`" not in text]
    assert not missing
