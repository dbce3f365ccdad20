"""The configs that ship with ganmods (package data) and how a config is found: by path or by short name.

``configs/`` in a clone links to the same folder, so ``configs/toy/sgan.yaml``, ``toy/sgan`` and a full path
name the same file from any working folder.
"""

from __future__ import annotations

import os

__all__ = ["CONFIG_DIR", "config_path", "shipped_configs"]

#: The folder of the shipped configs (package data; ``configs/`` in a clone points to it).
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs")


def config_path(name: str) -> str:
    """A config file by path or by the short name of a shipped config.

    Args:
        name: A path, or a shipped config's name relative to :data:`CONFIG_DIR`, with or without ``.yaml`` and
            with or without a leading ``configs/`` (``toy/sgan``, ``configs/toy/sgan.yaml``).

    Returns:
        ``name`` when it is a file; else the shipped config's path when one matches; else ``name`` unchanged
        (the parser then reports the missing file).
    """
    if os.path.isfile(name) or os.path.isabs(name):
        return name
    rel = name[len("configs/"):] if name.replace(os.sep, "/").startswith("configs/") else name
    for candidate in (rel, rel + ".yaml"):
        path = os.path.join(CONFIG_DIR, candidate)
        if os.path.isfile(path):
            return path
    return name


def shipped_configs() -> list[str]:
    """The short names of the shipped configs (``toy/sgan``, ``compare/ring8``, ...).

    Returns:
        The sorted names.
    """
    names = []
    for root, _, files in os.walk(CONFIG_DIR):
        for f in files:
            if f.endswith(".yaml"):
                names.append(os.path.relpath(os.path.join(root, f[: -len(".yaml")]), CONFIG_DIR).replace(os.sep, "/"))
    return sorted(names)
