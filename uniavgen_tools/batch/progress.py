"""One overall progress bar: rows done of the batch, each server's current row and step, the ETA."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, servers: list[str], enabled: bool | None = None) -> None:
        # enabled=None: only on a terminal, so logs and CI output stay clean
        self.bar = tqdm(total=total, unit="row", dynamic_ncols=True, file=sys.stderr,
                        disable=(not sys.stderr.isatty()) if enabled is None else not enabled)
        self.names = {url: f"s{i}" for i, url in enumerate(servers, 1)}
        self.state = {url: "idle" for url in servers}

    def server(self, url: str, state: str) -> None:
        self.state[url] = state
        self.bar.set_postfix_str("  ".join(f"{self.names[u]} {s}" for u, s in self.state.items()),
                                 refresh=True)

    def step(self, url: str, data_id: str, value: int, maximum: int) -> None:
        self.server(url, f"{data_id} {value}/{maximum}")

    def row_done(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
