"""Progress of long work: a tqdm bar when tqdm is installed (``tqdm.auto``: a widget in
Jupyter), else a one-line text bar on stderr where stderr is a terminal or a notebook; nothing
when ``progress=False``. A callable ``progress(done, total, text)`` receives the raw reports.

The Rust side reports at most every 20 ms; the text bar redraws at most 10 times a second.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, Optional, Union

Progress = Union[bool, Callable[[int, int, str], Any], None]


def _interactive() -> bool:
    stream = sys.stderr
    if stream is None:
        return False
    try:
        if stream.isatty():
            return True
    except (AttributeError, ValueError):
        return False
    return "ipykernel" in sys.modules


class _TextBar:
    """``[=====>     ] 120/300 steps  risk 1.2e-02`` redrawn in place on stderr."""

    def __init__(self, unit: str, desc: str) -> None:
        self.unit = unit
        self.desc = desc
        self.last = 0.0
        self.started = time.monotonic()
        self.drawn = False

    def __call__(self, done: int, total: int, text: str) -> None:
        now = time.monotonic()
        if now - self.last < 0.1 and done < total:
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        bar = "=" * filled + (">" if filled < width else "") + " " * max(0, width - filled - 1)
        elapsed = now - self.started
        line = f"\r{self.desc} [{bar}] {done}/{total} {self.unit} {elapsed:6.1f} s  {text}"
        sys.stderr.write(line[:200])
        sys.stderr.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


class _TqdmBar:
    def __init__(self, tqdm: Any, unit: str, desc: str) -> None:
        self.bar = tqdm(total=None, unit=unit.rstrip("s") or unit, desc=desc, leave=False)

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.bar.total != total:
            self.bar.total = total
        self.bar.n = done
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


class _Callback:
    def __init__(self, function: Callable[[int, int, str], Any]) -> None:
        self.function = function

    def __call__(self, done: int, total: int, text: str) -> None:
        self.function(done, total, text)

    def close(self) -> None:
        pass


def bar(progress: Progress, unit: str, desc: str) -> Optional[Any]:
    """The reporter for ``progress`` (True: tqdm or the text bar, where someone can see it;
    False or None: none; a callable: itself), with a ``close()``."""
    if progress is None or progress is False:
        return None
    if callable(progress):
        return _Callback(progress)
    if not _interactive():
        return None
    try:
        from tqdm.auto import tqdm  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        return _TextBar(unit, desc)
    return _TqdmBar(tqdm, unit, desc)


class reporting:
    """``with reporting(progress, "steps", name) as callback:`` closes the bar at the end."""

    def __init__(self, progress: Progress, unit: str, desc: str) -> None:
        self.reporter = bar(progress, unit, desc)

    def __enter__(self) -> Optional[Any]:
        return self.reporter

    def __exit__(self, *exc: Any) -> None:
        if self.reporter is not None:
            self.reporter.close()
