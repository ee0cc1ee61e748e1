# SPDX-License-Identifier: Apache-2.0
"""JSON conversions with upstream's rules: dict keys become ``str(key)``; ``bool`` before ``int``;
integers that fit in i64 stay integers, larger ones become floats; NaN and infinities become null;
tuples are arrays; any other object is a ``TypeError``."""

from __future__ import annotations

import json
import math
from typing import Any

_I64_MIN = -(1 << 63)
_I64_MAX = (1 << 63) - 1


def to_json_value(value: Any) -> Any:
    """A copy of ``value`` made only of JSON types (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value) if _I64_MIN <= value <= _I64_MAX else float(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): to_json_value(item) for key, item in value.items()}
    raise TypeError(
        f"cannot serialize `{type(value).__name__}` to JSON: only None, bool, int, float, str, "
        "list, tuple and dict values can travel to a peer"
    )


def dumps(value: Any) -> str:
    """Compact JSON text of ``to_json_value(value)``."""
    return json.dumps(to_json_value(value), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)


def _parse_int(text: str) -> Any:
    number = int(text)
    return number if _I64_MIN <= number <= _I64_MAX else float(number)


def loads(data: bytes | str) -> Any:
    """Parses JSON text; integers outside i64 become floats. Raises ValueError."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data).decode("utf-8")
    return json.loads(data, parse_int=_parse_int)
