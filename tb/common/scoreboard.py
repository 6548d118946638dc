"""An in-order scoreboard: expected items queued, observed items checked one by one.

A driver (or a reference model) calls :meth:`Scoreboard.expect` for every
item the design must produce, a monitor calls :meth:`Scoreboard.observe` for
every item it saw; the first observation is compared with the oldest
expectation.  :meth:`Scoreboard.finish` fails if anything expected never came.
"""

from __future__ import annotations

from collections import deque


class Scoreboard:
    """In-order checker of one stream.

    ``name`` prefixes every failure; ``fmt`` formats an item in messages (e.g.
    ``hex``).  An expectation may carry a ``note`` (the stimulus that made it)
    that is shown when it is not met.
    """

    def __init__(self, name: str, fmt=repr):
        self.name, self.fmt = name, fmt
        self.pending: deque = deque()
        self.matched = 0

    def expect(self, item, note=None) -> None:
        self.pending.append((item, note))

    def observe(self, item) -> None:
        """Check ``item`` against the oldest expectation (fails on a mismatch or a surplus)."""
        assert self.pending, \
            f"{self.name}: unexpected item {self.fmt(item)} after {self.matched} matched"
        want, note = self.pending.popleft()
        assert item == want, \
            f"{self.name} item {self.matched}: got {self.fmt(item)}, expected {self.fmt(want)}" \
            + (f"; {note}" if note is not None else "")
        self.matched += 1

    def finish(self, total: int | None = None) -> None:
        """Everything expected was seen (and ``total`` items in all, if given)."""
        assert not self.pending, f"{self.name}: {len(self.pending)} expected item(s) never " \
            f"came after {self.matched} matched (next {self.fmt(self.pending[0][0])})"
        if total is not None:
            assert self.matched == total, f"{self.name}: {self.matched} items, expected {total}"
