"""Subcommands of ``attest`` for the analytics areas, one module per area.

Each area module exposes ``register(sub, common)``: it adds its subparser(s) to ``sub`` (with
``parents=[common]``) and binds ``func`` through ``set_defaults``. Shared argument handling lives
in :mod:`commands.shared` so every command reads a scope the same way.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

AREAS = ("drift", "fairness", "costs", "operations", "explain", "report")


def register_all(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    common: argparse.ArgumentParser,
) -> None:
    """Add the subcommands of every area module that is present."""
    for area in AREAS:
        name = f"commands.{area}"
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub, common)
