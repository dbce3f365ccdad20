"""Refusing YAML config files with a duplicate key (YAML loaders silently keep the last value).

``ganmods fit/validate/test/predict -c FILE`` and ``ganmods compare -c FILE`` check each config file with
:func:`check_no_duplicate_keys` before parsing it: ``name: a`` followed by ``name: b`` in the same mapping
is an error naming the key and its line, not a silent ``name: b``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Union

import yaml

from ganmods.errors import ConfigurationError

__all__ = ["DuplicateKeyLoader", "check_config_args", "check_no_duplicate_keys"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class DuplicateKeyLoader(yaml.SafeLoader):
    """PyYAML's ``SafeLoader`` that raises :class:`~ganmods.errors.ConfigurationError` on a duplicate key.

    Keys are compared after construction (``1`` and ``"1"`` differ, ``1`` and ``0x1`` are the same), within
    one mapping; the merge key ``<<`` is left to YAML's merge rules (a key given explicitly beside a merge
    overrides it, as YAML specifies).

    Args:
        stream: The YAML text or an open file.
    """

    source: str = "<config>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping, refusing a key that appears twice in it.

        Args:
            node: The mapping node.
            deep: Construct nested values now.

        Returns:
            The mapping.

        Raises:
            ConfigurationError: ``"<file>: duplicate key 'name' at line N."`` (N: the repeated key's line, from 1).
        """
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable (complex) key: the base loader reports it
                    continue
                if duplicate:
                    raise ConfigurationError(
                        f"{self.source}: duplicate key {key!r} at line {key_node.start_mark.line + 1}."
                    )
        return super().construct_mapping(node, deep=deep)


def check_no_duplicate_keys(path: Union[str, "os.PathLike[str]"]) -> None:
    """Refuse a YAML file in which a mapping repeats a key.

    A file that does not exist or is not valid YAML passes (the config parser reports those itself).

    Args:
        path: The YAML file.

    Raises:
        ConfigurationError: ``"<file>: duplicate key 'name' at line N."``.

    Example:
        >>> import tempfile
        >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        ...     _ = f.write("model:\\n  lr: 1\\n  lr: 2\\n")
        >>> check_no_duplicate_keys(f.name)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ganmods.errors.ConfigurationError: ...yaml: duplicate key 'lr' at line 3.
    """
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError):
        return
    loader = DuplicateKeyLoader(text)
    loader.source = path
    try:
        while loader.check_data():  # every document of the file
            loader.get_data()
    except yaml.YAMLError:
        return
    finally:
        loader.dispose()


def check_config_args(argv: Sequence[Any]) -> None:
    """Check every config file named on a command line (``-c F``, ``--config F``, ``--config=F``, ``-cF``).

    Args:
        argv: The command-line arguments (anything not a list of strings is ignored).

    Raises:
        ConfigurationError: If a config file repeats a key (see :func:`check_no_duplicate_keys`).
    """
    if isinstance(argv, (str, bytes)) or not isinstance(argv, Sequence):
        return
    args = [a for a in argv if isinstance(a, str)]
    for i, arg in enumerate(args):
        if arg in ("-c", "--config") and i + 1 < len(args):
            check_no_duplicate_keys(args[i + 1])
        elif arg.startswith("--config="):
            check_no_duplicate_keys(arg[len("--config="):])
        elif arg.startswith("-c") and len(arg) > 2 and not arg.startswith("--"):
            check_no_duplicate_keys(arg[2:].lstrip("="))
