"""The deletion safeguard's question: a run held back more deletions than ``deletion_threshold``; go on?

Shown when a reconciliation ends FAILED with ``deletionsHeld`` (how many, the threshold, a few examples by
name). Answering yes (``y`` or the button) starts the same mapping again with ``allow_deletions``; Escape or
``n`` leaves everything as it is. Enter does nothing here: deleting users needs a deliberate key.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmDeletions(ModalScreen[bool]):
    """Dismissed with True to reconcile again allowing the deletions, False to leave them."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Apply the deletions", id="deletions-yes"),
        Binding("n,escape", "answer(False)", "Leave them", id="deletions-no"),
    ]

    def __init__(self, run: dict[str, Any]) -> None:
        super().__init__()
        self.run = run
        self.held = run.get("deletionsHeld") or {}

    def compose(self) -> ComposeResult:
        count, threshold = self.held.get("count", 0), self.held.get("threshold", 0)
        with Vertical(id="deletions-box"):
            yield Label(Text.assemble(("Deletions held back  ", "bold"), str(self.run.get("mapping", ""))))
            yield Static(Text(
                f"This run would delete or deactivate {count:,} users, more than deletion_threshold "
                f"{threshold:,} (conf/sfsync.toml). None was applied; every other change was."), id="deletions-text")
            yield Static(Text("\n".join(_example(e) for e in self.held.get("examples") or ())),
                         id="deletions-examples")
            with Horizontal(classes="row"):
                yield Button(f"y  Reconcile again, applying {count:,}", id="deletions-apply", variant="error")
                yield Button("n  Leave them", id="deletions-leave")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    @on(Button.Pressed, "#deletions-apply")
    def _apply(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#deletions-leave")
    def _leave(self) -> None:
        self.dismiss(False)


def _example(entry: dict[str, Any]) -> str:
    name = entry.get("name") or str(entry.get("targetObjectId") or "").rsplit("/", 1)[-1]
    return f"  • {name}  ({entry.get('situation', '')}, {entry.get('targetObjectId', '')})"
