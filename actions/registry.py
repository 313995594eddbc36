"""Finds every Action subclass in the `actions` package by name."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import actions
from actions.base import Action


def load_actions() -> dict[str, Action]:
    """One instance per action name. iter_modules (not walk_packages): actions is flat by design."""
    found: dict[str, Action] = {}
    for module_info in pkgutil.iter_modules(actions.__path__):
        module = importlib.import_module(f"actions.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Action) and cls is not Action and cls.name:
                found[cls.name] = cls()
    return found
