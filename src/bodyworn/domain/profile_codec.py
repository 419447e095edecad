"""Camera profile settings to and from plain JSON values, with errors that name the field."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bodyworn.domain.profile import (
    DURATION_LIMITS,
    CameraProfile,
    ProfileError,
    duration_problem,
)


@dataclasses.dataclass(frozen=True)
class SettingError:
    """One refused setting: which field, and why."""

    field: str
    message: str


class ProfileInvalid(ValueError):
    """Settings that do not make a valid profile; every error names its field."""

    def __init__(self, errors: list[SettingError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


# Whole numbers a profile may hold that are not durations, with their ranges (none yet:
# a new one must be added here, or decoding it fails loudly).
COUNT_LIMITS: dict[str, tuple[int, int]] = {}


def _hints() -> dict[str, Any]:
    return typing.get_type_hints(CameraProfile)


def setting_names() -> tuple[str, ...]:
    """Every setting a profile stores (the name is kept apart)."""
    return tuple(f.name for f in dataclasses.fields(CameraProfile) if f.name != "name")


def _kind(hint: Any) -> tuple[str, Any]:
    """What JSON shape a field takes: bool, enum, seconds, optional seconds, enum set, str."""
    if hint is bool:
        return "bool", None
    if hint is str:
        return "str", None
    if hint is int:
        return "int", None
    if hint is timedelta:
        return "seconds", None
    if isinstance(hint, type) and issubclass(hint, StrEnum):
        return "enum", hint
    args = typing.get_args(hint)
    if typing.get_origin(hint) is frozenset and args and issubclass(args[0], StrEnum):
        return "enum_set", args[0]
    if set(args) == {timedelta, type(None)}:
        return "optional_seconds", None
    raise TypeError(f"no JSON form for a setting of type {hint!r}")


def to_settings(profile: CameraProfile) -> dict[str, Any]:
    """The profile's settings as JSON values (durations in whole seconds, sets as sorted lists)."""
    hints = _hints()
    out: dict[str, Any] = {}
    for name in setting_names():
        kind, _enum = _kind(hints[name])
        value = getattr(profile, name)
        if kind == "seconds":
            out[name] = int(value.total_seconds())
        elif kind == "optional_seconds":
            out[name] = None if value is None else int(value.total_seconds())
        elif kind == "enum":
            out[name] = str(value)
        elif kind == "enum_set":
            out[name] = sorted(str(v) for v in value)
        else:
            out[name] = value
    return out


def _decode(name: str, kind: str, enum: Any, value: Any) -> Any:
    # bool is an int in Python; a JSON true must not pass as 1 second.
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError("must be true or false")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ValueError("must be text")
        return value
    if kind == "int":
        low_count, high_count = COUNT_LIMITS[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number")
        if not low_count <= value <= high_count:
            raise ValueError(f"must be between {low_count} and {high_count}")
        return value
    if kind in ("seconds", "optional_seconds"):
        if value is None and kind == "optional_seconds":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be a whole number of seconds")
        # The range is checked on the number, before it can overflow a timedelta.
        low, high = DURATION_LIMITS[name]
        if not low.total_seconds() <= value <= high.total_seconds():
            raise ValueError(
                f"must be between {low.total_seconds():g} and {high.total_seconds():g} seconds")
        duration = timedelta(seconds=value)
        problem = duration_problem(name, duration)
        if problem:
            raise ValueError(problem)
        return duration
    if kind == "enum":
        try:
            return enum(value)
        except ValueError:
            raise ValueError("must be one of " + ", ".join(e.value for e in enum)) from None
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError("must be a list")
    try:
        return frozenset(enum(v) for v in value)
    except (ValueError, TypeError):
        raise ValueError("items must be among " + ", ".join(e.value for e in enum)) from None


def from_settings(name: str, settings: Mapping[str, Any], *, base: CameraProfile | None = None
                  ) -> CameraProfile:
    """A validated profile from JSON settings; missing settings come from base (or defaults)."""
    hints = _hints()
    known = set(setting_names())
    errors = [SettingError(k, "is not a profile setting") for k in settings if k not in known]
    values: dict[str, Any] = {}
    for key, value in settings.items():
        if key not in known:
            continue
        kind, enum = _kind(hints[key])
        try:
            values[key] = _decode(key, kind, enum, value)
        except ValueError as exc:
            errors.append(SettingError(key, str(exc)))
    if not isinstance(name, str):
        errors.append(SettingError("name", "must be text"))
    if errors:
        raise ProfileInvalid(errors)
    try:
        if base is None:
            return CameraProfile(name=name, **values)
        return dataclasses.replace(base, name=name, **values)
    except ProfileError as exc:
        raise ProfileInvalid([SettingError(exc.field or "settings", str(exc))]) from None

