"""Progress: a text bar where someone can see it (tqdm when installed), nothing when disabled
or when nobody looks (CI, a pipe)."""

from __future__ import annotations

import sys

import meanfield
from meanfield import _progress


def test_the_text_bar_draws_on_a_terminal_without_tqdm(quickstart, monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_interactive", lambda: True)
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    meanfield.run(quickstart, progress=True)
    err = capsys.readouterr().err
    assert "quickstart [" in err and "/300 steps" in err and "risk " in err
    assert err.endswith("\n")


def test_no_bar_when_disabled_or_unseen(quickstart, monkeypatch, capsys):
    monkeypatch.setattr(_progress, "_interactive", lambda: True)
    meanfield.run(quickstart, progress=False)
    monkeypatch.setattr(_progress, "_interactive", lambda: False)
    meanfield.run(quickstart, progress=True)
    assert capsys.readouterr().err == ""


def test_tqdm_is_used_when_installed(quickstart, monkeypatch):
    drawn = []

    class FakeTqdm:
        def __init__(self, total, unit, desc, leave):
            self.total, self.n = total, 0
            drawn.append(self)

        def set_postfix_str(self, text, refresh):
            self.text = text

        def refresh(self):
            pass

        def close(self):
            self.closed = True

    fake = type(sys)("tqdm.auto")
    fake.tqdm = FakeTqdm
    monkeypatch.setitem(sys.modules, "tqdm", type(sys)("tqdm"))
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake)
    monkeypatch.setattr(_progress, "_interactive", lambda: True)
    meanfield.run(quickstart, progress=True)
    (bar,) = drawn
    assert bar.total == 300 and 0 < bar.n <= 300 and bar.closed and bar.text.startswith("risk ")
