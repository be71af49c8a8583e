"""One case of the bad-input matrix: a whole API prompt and what its error must say."""

from __future__ import annotations

from dataclasses import dataclass

CHECKED, RUNTIME = "400", "run"


@dataclass(frozen=True)
class Case:
    id: str
    prompt: dict
    when: str                  # CHECKED: refused by /prompt; RUNTIME: execution_error
    expect: tuple[str, ...]    # node, input, bad value, fix: all must appear in the message
    # CHECKED only: the inputs the 400's errors may be attached to (None: not checked)
    attached: frozenset[str] | None = None
