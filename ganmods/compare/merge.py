"""Dict helpers for building run configs: class-aware deep merge, dotted overrides, differences."""

from __future__ import annotations

import copy
from typing import Any, Iterator

import yaml

from ganmods.errors import invalid

__all__ = ["apply_override", "deep_merge", "flatten", "get_path", "parse_override"]


def deep_merge(base: Any, update: Any, path: tuple[str, ...] = ()) -> Any:
    """Merge ``update`` into a copy of ``base``: mappings merge key by key, anything else is replaced.

    An object spec (a mapping with ``class_path``) whose class changes is replaced as a whole, so the old
    class's ``init_args`` never leak into the new one, except at the top of ``model``: there the variant's
    class replaces the shared one and the shared ``init_args`` (networks, EMA, ...) are kept beneath it.

    Args:
        base: The lower-precedence value.
        update: The higher-precedence value.
        path: Key path of ``base`` (used for the ``model`` rule).

    Returns:
        The merged value (inputs are not modified).
    """
    if not (isinstance(base, dict) and isinstance(update, dict)):
        return copy.deepcopy(update)
    new_class = update.get("class_path")
    if path != ("model",) and "class_path" in base and new_class is not None and new_class != base["class_path"]:
        return copy.deepcopy(update)
    out = copy.deepcopy(base)
    for key, value in update.items():
        out[key] = deep_merge(out[key], value, (*path, key)) if key in out else copy.deepcopy(value)
    return out


def parse_override(text: Any, where: str) -> tuple[list[str], Any]:
    """Read one override ``"dotted.key=value"`` (a leading ``--`` is allowed; the value is YAML).

    Args:
        text: The override.
        where: Its place in the config, for errors (e.g. ``"variants.rasgan[0]"``).

    Returns:
        The key path and the parsed value.

    Raises:
        ConfigurationError: If ``text`` is not a ``key=value`` string with a non-empty key.
    """
    if not isinstance(text, str) or "=" not in text:
        raise invalid(where, "an override 'dotted.key=value' (e.g. 'model.init_args.kind=rasgan')", text)
    key, value = text.split("=", 1)
    key = key.strip().removeprefix("--")
    parts = key.split(".")
    if not key or any(not p for p in parts):
        raise invalid(where, "an override 'dotted.key=value' with a key like model.init_args.n_critic", text)
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError as exc:
        raise invalid(where, f"an override whose value is valid YAML ({exc.__class__.__name__})", text) from exc
    return parts, parsed


def apply_override(config: dict[str, Any], parts: list[str], value: Any) -> None:
    """Set ``config[parts[0]][parts[1]]... = value`` in place, creating mappings on the way.

    Args:
        config: The config to change.
        parts: The key path.
        value: The value.

    Raises:
        ConfigurationError: If the path runs through a value that is not a mapping.
    """
    node = config
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise invalid(".".join(parts), f"a key under a mapping ({'.'.join(parts[:i + 1])} holds a value)", child)
        node = child
    node[parts[-1]] = copy.deepcopy(value)


def get_path(config: Any, parts: "tuple[str, ...] | list[str]", default: Any = None) -> Any:
    """``config[parts[0]][parts[1]]...``, or ``default`` where the path does not exist.

    Args:
        config: A nested mapping.
        parts: The key path.
        default: Returned for a missing path.

    Returns:
        The value.
    """
    node = config
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def flatten(config: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield ``(key path, leaf value)`` of a nested mapping; object specs and lists are leaves.

    Args:
        config: A nested mapping.
        prefix: Path of ``config``.

    Yields:
        Key paths and values.
    """
    if isinstance(config, dict) and "class_path" not in config and config:
        for key, value in config.items():
            yield from flatten(value, (*prefix, str(key)))
    else:
        yield prefix, config
