"""Construction records: how to rebuild a ganmods object from a checkpoint without the training code.

Every ganmods component (networks, losses, regularizers, GAN modules) inherits :class:`Recorded`, which
remembers the class and the arguments it was built with. :func:`to_spec` turns such an object into plain
data (safe to store with ``torch.save`` and to load with ``weights_only=True``) and :func:`from_spec`
builds it again.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

_SPEC_KEY = "class_path"


class Recorded:
    """Mixin that records ``class_path`` and the bound ``__init__`` arguments of every instance."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__new__(cls)
        try:
            bound = inspect.signature(cls.__init__).bind(obj, *args, **kwargs)
            bound.apply_defaults()
        except TypeError:  # the real __init__ call will raise the user-facing error
            return obj
        arguments = dict(bound.arguments)
        arguments.pop(next(iter(arguments)))  # self
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if param.kind is inspect.Parameter.VAR_KEYWORD and name in arguments:
                arguments.update(arguments.pop(name))
            elif param.kind is inspect.Parameter.VAR_POSITIONAL and name in arguments:
                if arguments.pop(name):  # positional extras cannot be replayed by name
                    return obj
        # set before the class's own __init__ runs: for an nn.Module, nn.Module.__setattr__ would fail that early
        object.__setattr__(obj, "_init_record", (f"{cls.__module__}.{cls.__qualname__}", arguments))
        return obj


class NotRecordable(TypeError):
    """Raised by :func:`to_spec` for a value that cannot be stored as plain data."""


def to_spec(value: Any) -> Any:
    """Convert a value to plain data (dicts, lists, numbers, strings, None).

    Args:
        value: A :class:`Recorded` object, or a nesting of lists/tuples/dicts/primitives holding them.

    Returns:
        Plain data; a recorded object becomes ``{"class_path": ..., "init_args": {...}}``.

    Raises:
        NotRecordable: If some part is neither primitive nor recorded (e.g. a user's ``nn.Module``).
    """
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [to_spec(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_spec(v) for k, v in value.items()}
    record = getattr(value, "_init_record", None)
    if record is not None:
        class_path, arguments = record
        return {_SPEC_KEY: class_path, "init_args": {k: to_spec(v) for k, v in arguments.items()}}
    raise NotRecordable(f"cannot record a {type(value).__name__} as plain data")


def _is_spec(value: Any) -> bool:
    return isinstance(value, dict) and _SPEC_KEY in value and set(value) <= {_SPEC_KEY, "init_args"}


def import_class(class_path: str) -> type:
    """Import ``package.module.Class`` (nested qualnames allowed).

    Args:
        class_path: Dotted path of the class.

    Returns:
        The class.

    Raises:
        ImportError: If no importable module prefix defines the class.
    """
    parts = class_path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    raise ImportError(f"cannot import class {class_path!r}")


def from_spec(value: Any, **overrides: Any) -> Any:
    """Rebuild what :func:`to_spec` produced.

    Args:
        value: Plain data from :func:`to_spec`.
        **overrides: Top-level ``init_args`` to replace (only when ``value`` is a class spec).

    Returns:
        The rebuilt object (or plain data, recursively rebuilt).

    Raises:
        ImportError: If a recorded class cannot be imported.
    """
    if _is_spec(value):
        cls = import_class(value[_SPEC_KEY])
        kwargs = {k: from_spec(v) for k, v in value.get("init_args", {}).items()}
        kwargs.update(overrides)
        return cls(**kwargs)
    if isinstance(value, list):
        return [from_spec(v) for v in value]
    if isinstance(value, dict):
        return {k: from_spec(v) for k, v in value.items()}
    return value
