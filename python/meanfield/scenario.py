"""``meanfield.Scenario``: a scenario as data. Loaded from a TOML file, built from a dict with
exactly the file's schema, or from TOML text; validated by the Rust library as ``meanfield run``
validates a file, with the same error messages (as :class:`meanfield.ScenarioError`).
``set(key, value)`` is the CLI's ``--set key=value``."""

from __future__ import annotations

import json
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from . import _meanfield
from .errors import ScenarioError

PathLike = Union[str, "os.PathLike[str]"]


def _plain(value: Any, key: str) -> Any:
    """``value`` as plain Python data (NumPy scalars and arrays become numbers and lists);
    None values inside dicts are dropped (a missing key takes its default)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "tolist") and callable(value.tolist):  # NumPy arrays and scalars
        return _plain(value.tolist(), key)
    if isinstance(value, Mapping):
        plain = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ScenarioError(
                    f"<dict>: {key}: key {k!r} is not a string", file="<dict>", key=key
                )
            if v is not None:
                plain[k] = _plain(v, f"{key}.{k}" if key else k)
        return plain
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i + 1}]") for i, v in enumerate(value)]
    raise ScenarioError(
        f"<dict>: {key}: a {type(value).__name__} is not a scenario value: expected a number, "
        "a string, true/false, a list or a dict",
        file="<dict>",
        key=key,
    )


def _bare(key: str) -> bool:
    return bool(key) and all(c.isalnum() or c in "_-" for c in key)


def _literal(value: Any, key: str) -> str:
    """A TOML literal of a plain value (what ``--set key=LITERAL`` reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v, key) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{k if _bare(k) else json.dumps(k)} = {_literal(v, key)}" for k, v in value.items()
        )
        return "{ " + ", ".join(items) + " }"
    raise ScenarioError(f"--set: {key}: cannot write {value!r} as TOML", file="--set", key=key)


def assignment(key: str, value: Any) -> str:
    """``key=LITERAL``, the CLI's ``--set`` form of ``key = value`` (None: ``key=none``,
    which removes the key so that its default applies)."""
    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise ScenarioError(
            f"--set: {key!r}: expected a dotted key such as 'dynamics.dt'", file="--set", key=str(key)
        )
    if value is None:
        return f"{key}=none"
    return f"{key}={_literal(_plain(value, key), key)}"


def _overrides(overrides: Union[None, Mapping[str, Any], Iterable[str]]) -> List[str]:
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [assignment(k, v) for k, v in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return [str(o) for o in overrides]


class Scenario:
    """A validated scenario (docs/scenarios.md has every key).

    >>> sc = Scenario.load("scenarios/quickstart.toml")
    >>> sc.set("dynamics.dt", 0.01).set("model.m", 256)   # like --set, validated at once
    >>> sc.m
    256
    """

    def __init__(self, core: "_meanfield.ScenarioCore") -> None:
        self._core = core

    # construction ---------------------------------------------------------------------------

    @classmethod
    def load(
        cls, path: PathLike, overrides: Union[None, Mapping[str, Any], Iterable[str]] = None
    ) -> "Scenario":
        """Loads a scenario file; ``overrides`` are ``{key: value}`` or ``["key=value", ...]``
        (the CLI's ``--set``). Errors name the file, the key, its line and column."""
        return cls(_meanfield.ScenarioCore.load(os.fspath(path), _overrides(overrides)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Scenario":
        """A scenario from a dict shaped like the TOML file, e.g.
        ``{"model": {"d": 8, "m": 128}, "dynamics": {"dt": 0.05, "steps": 200}}``.
        Relative file paths are taken against the working directory; ``name`` defaults to
        ``scenario``; a None value means the key's default."""
        if not isinstance(data, Mapping):
            raise ScenarioError(
                f"<dict>: expected a dict of sections, got a {type(data).__name__}",
                file="<dict>",
                key="(document)",
            )
        return cls(_meanfield.ScenarioCore.from_json(json.dumps(_plain(data, "")), []))

    @classmethod
    def from_toml(cls, text: str) -> "Scenario":
        """A scenario from TOML text (relative file paths against the working directory)."""
        return cls(_meanfield.ScenarioCore.from_toml(text, []))

    @classmethod
    def coerce(cls, scenario: "ScenarioLike") -> "Scenario":
        """A Scenario from a Scenario, a path to a file or a dict."""
        if isinstance(scenario, Scenario):
            return scenario
        if isinstance(scenario, Mapping):
            return cls.from_dict(scenario)
        if isinstance(scenario, (str, os.PathLike)):
            return cls.load(scenario)
        raise TypeError(
            f"scenario: expected a meanfield.Scenario, a path to a TOML file or a dict, "
            f"got a {type(scenario).__name__}"
        )

    # overrides ------------------------------------------------------------------------------

    def set(self, key: str, value: Any) -> "Scenario":
        """Sets ``key`` (dotted, e.g. ``"dynamics.dt"``) to ``value`` exactly as
        ``--set key=value`` does, validates, and returns this scenario (so calls chain). None
        removes the key (its default applies). A bad value raises ScenarioError and leaves
        the scenario as it was."""
        self._core = self._core.with_overrides([assignment(key, value)])
        return self

    def update(self, values: Mapping[str, Any]) -> "Scenario":
        """``set`` for each ``{key: value}``, validated together."""
        self._core = self._core.with_overrides(_overrides(values))
        return self

    def copy(self) -> "Scenario":
        """An independent copy (``set`` on it leaves this one unchanged)."""
        return Scenario(self._core.with_overrides([]))

    # views ----------------------------------------------------------------------------------

    def to_toml(self, resolved: bool = True) -> str:
        """The scenario as TOML: resolved (every default written out, paths absolute: what a
        run directory's scenario.toml holds), or the source text without the overrides."""
        return self._core.resolved_toml() if resolved else self._core.source_toml

    def to_dict(self) -> Dict[str, Any]:
        """The resolved scenario as a dict (the keys of :meth:`to_toml`)."""
        resolved: Dict[str, Any] = _drop_none(json.loads(self._core.resolved_json()))
        return resolved

    def __getitem__(self, key: str) -> Any:
        """The resolved value of a dotted key, e.g. ``sc["dynamics.dt"]``."""
        value: Any = self.to_dict()
        for part in key.split("."):
            if not isinstance(value, dict) or part not in value:
                raise KeyError(key)
            value = value[part]
        return value

    @property
    def name(self) -> str:
        return self._core.name

    @property
    def m(self) -> int:
        """Width m."""
        return self._core.m

    @property
    def d(self) -> int:
        """Input dimension d."""
        return self._core.d

    @property
    def columns(self) -> int:
        """Columns of the particle array: a, w_1..w_d (and b with a bias)."""
        return self._core.columns

    @property
    def steps(self) -> int:
        return self._core.steps

    @property
    def dt(self) -> float:
        return self._core.dt

    @property
    def seed(self) -> int:
        return self._core.seed

    @property
    def file(self) -> Optional[str]:
        """The scenario file, if it came from one."""
        f = self._core.file
        return None if f is None else os.fspath(f)

    @property
    def overrides(self) -> List[str]:
        """The ``--set`` assignments applied, in order."""
        return list(self._core.overrides)

    def __repr__(self) -> str:
        source = self.file or self._core.origin
        extra = f", overrides={self.overrides}" if self.overrides else ""
        return (
            f"Scenario({self.name!r} from {source}: m={self.m}, d={self.d}, "
            f"steps={self.steps}, dt={self.dt}{extra})"
        )


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


ScenarioLike = Union[Scenario, PathLike, Mapping[str, Any]]
