"""Dotted keys into the settings document, as ``tendero settings set KEY VALUE`` takes them.

A key walks the document's JSON shape: object fields by name, list items by number
(``locations.0.name``, ``bank_accounts.1.default``), exchange rates by currency code
(``fx_rates.USD``). The walk follows the pydantic models, so an unknown key is caught
with a suggestion ("did you mean ...?") before anything is validated.
"""

from __future__ import annotations

import difflib
import json
import types
from decimal import Decimal
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from tendero.errors import ValidationFailed
from tendero.store.document import Loc, StoreDocument

_APPEND = object()


def parse_value(raw: str, kind: Any = None) -> Any:
    """VALUE as the contract reads it: JSON when it parses, else the text itself.

    JSON numbers become ``Decimal`` (never float). When the target ``kind`` is text,
    a bare number or boolean is kept as typed, so ``032180000118359719`` or ``123``
    stays the text the merchant wrote.
    """
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except ValueError:
        return raw
    if _unwrap(kind) is str and isinstance(value, int | Decimal | bool):
        return raw.strip()
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(name)  # NaN/Infinity: not JSON; treated as text (and refused later)


def _unwrap(kind: Any) -> Any:
    """``Annotated[X, ...]`` -> X; ``X | None`` -> X."""
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if get_origin(kind) in (Union, types.UnionType):
        members = [arg for arg in get_args(kind) if arg is not type(None)]
        if len(members) == 1:
            return _unwrap(members[0])
    return kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _unknown(key: str, parts: list[str], i: int, choices: list[str]) -> ValidationFailed:
    close = difflib.get_close_matches(parts[i], choices, n=1, cutoff=0.6)
    if close:
        suggestion = ".".join([*parts[:i], close[0], *parts[i + 1 :]])
        return ValidationFailed(f"unknown setting {key!r} (did you mean {suggestion!r}?)")
    where = ".".join(parts[:i])
    return ValidationFailed(
        f"unknown setting {key!r}: "
        + (f"{where!r} has " if where else "the settings are ")
        + ", ".join(choices)
    )


class _Target:
    """Where a key points: the container, the slot in it, the expected type, the path."""

    def __init__(self, container: Any, slot: Any, kind: Any, loc: Loc) -> None:
        self.container = container
        self.slot = slot
        self.kind = kind
        self.loc = loc


def _resolve(data: dict[str, Any], key: str, *, allow_new: bool) -> _Target:
    parts = key.split(".")
    if not key.strip() or any(not part.strip() for part in parts):
        raise ValidationFailed(
            f"bad setting key {key!r}: use a dotted path such as shipping.flat_rate or locations.0.name"
        )
    node: Any = data
    kind: Any = StoreDocument
    loc: list[str | int] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        here = ".".join(parts[:i])
        kind = _unwrap(kind)
        slot: Any
        if _is_model(kind):
            if part not in kind.model_fields:
                raise _unknown(key, parts, i, list(kind.model_fields))
            slot, child = part, kind.model_fields[part].annotation
        elif get_origin(kind) is list:
            size = len(node)
            if not part.isdigit():
                raise ValidationFailed(
                    f"{here!r} is a list: follow it with an item number (0 to {size}), got {part!r}"
                )
            index = int(part)
            if index == size and last and allow_new:
                slot = _APPEND
            elif index >= size:
                items = "it is empty" if size == 0 else f"its items are 0 to {size - 1}"
                hint = f"; set '{here}.{size}' to a whole object to add one" if allow_new else ""
                raise ValidationFailed(f"no item {index} in {here!r}: {items}{hint}")
            else:
                slot = index
            child = get_args(kind)[0]
        elif get_origin(kind) is dict:
            slot = part.strip().upper()  # the only map is fx_rates, keyed by currency code
            if slot not in node and not (last and allow_new):
                raise ValidationFailed(f"unknown setting {key!r}: {here!r} has no {slot!r}")
            child = get_args(kind)[1]
        else:
            raise ValidationFailed(f"unknown setting {key!r}: {here!r} is a single value")
        loc.append(len(node) if slot is _APPEND else slot)
        if last:
            return _Target(node, slot, child, tuple(loc))
        node, kind = node[slot], child
        if node is None:
            raise ValidationFailed(
                f"unknown setting {key!r}: {'.'.join(parts[: i + 1])!r} is empty"
            )
    raise AssertionError("unreachable")


def set_path(data: dict[str, Any], key: str, raw_value: str) -> Loc:
    """Replace the value at ``key`` in the JSON ``data`` with ``raw_value`` (parsed as
    :func:`parse_value` says) and return the path it changed, in loc form.

    An item number one past the end of a list appends; ``null`` on an exchange rate
    removes that rate. Raises :class:`ValidationFailed` for a key the document does not
    have; the value itself is validated by the caller.
    """
    target = _resolve(data, key, allow_new=True)
    value = parse_value(raw_value, target.kind)
    if target.slot is _APPEND:
        target.container.append(value)
    elif value is None and target.loc[0] == "fx_rates" and len(target.loc) == 2:
        target.container.pop(target.slot, None)
    else:
        target.container[target.slot] = value
    return target.loc


def get_path(data: dict[str, Any], key: str) -> Any:
    """The JSON value at ``key`` in ``data`` (ValidationFailed for an unknown key)."""
    target = _resolve(data, key, allow_new=False)
    return target.container[target.slot]
