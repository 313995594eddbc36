"""Fixtures for tests that run the real engine: a model trained once per test run, assistants on
fresh databases, and a small conversation driver.

The model is trained into a folder shared by pytest-xdist workers (under the run's base temp
folder), guarded by a file lock, so a parallel run trains it once.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

from bot.config import Settings, load_settings
from bot.engine import Assistant, build_runtime
from bot.nlu.pipeline import ModelState, model_state
from bot.store import Database
from bot.training import train

PROJECT = Path(__file__).resolve().parent.parent
CONFIG = PROJECT / "config.yml"


def make_settings(db_url: str, models_dir: Path, **env: str) -> Settings:
    environ = {"WALLETBOT_STORAGE_DATABASE_URL": db_url, "WALLETBOT_PATHS_MODELS": str(models_dir)} | env
    return load_settings(CONFIG, environ=environ)


@pytest.fixture(scope="session")
def trained_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models/ folder trained on the project's data/, shared by all workers of this run."""
    shared = (
        tmp_path_factory.getbasetemp().parent
        if os.environ.get("PYTEST_XDIST_WORKER")
        else tmp_path_factory.getbasetemp()
    )
    models = shared / "trained-models"
    with FileLock(str(shared / "trained-models.lock")):
        settings = make_settings("sqlite://", models)
        if model_state(settings.data_dir, models) is not ModelState.READY:
            train(settings)
    return models


@pytest.fixture(scope="session")
def runtime(trained_models_dir: Path):
    """Content + model + FAQ index + policy, loaded once (read-only, safe to share)."""
    return build_runtime(make_settings("sqlite://", trained_models_dir))


@pytest.fixture
def settings(tmp_path: Path, trained_models_dir: Path) -> Settings:
    return make_settings(f"sqlite:///{tmp_path / 'walletbot.db'}", trained_models_dir)


@pytest.fixture
def assistant(settings: Settings, runtime) -> Iterator[Assistant]:
    """The real engine on a fresh SQLite database."""
    db = Database(settings.database_url)
    db.migrate()
    bot = Assistant(settings, runtime, db)
    yield bot
    bot.close()


class Chat:
    """Drives one conversation: `say(text)` / `press(payload)` return the reply object."""

    def __init__(self, assistant: Assistant, brand: str | None = None) -> None:
        self.assistant = assistant
        self.id, self.token = assistant.start_conversation(brand=brand, channel="test")
        self.last: dict[str, Any] = {}

    def say(self, text: str) -> dict[str, Any]:
        self.last = self.assistant.handle(self.id, text=text)
        return self.last

    def press(self, payload: str) -> dict[str, Any]:
        self.last = self.assistant.handle(self.id, payload=payload)
        return self.last

    def press_title(self, title: str) -> dict[str, Any]:
        """Press the button titled `title` among the last reply's buttons."""
        for button in self.buttons():
            if button["title"] == title:
                return self.press(button["payload"])
        raise AssertionError(f"no button {title!r} in {[b['title'] for b in self.buttons()]}")

    def buttons(self) -> list[dict[str, str]]:
        return [b for m in self.last.get("messages", []) for b in m["buttons"]]

    def text(self) -> str:
        return "\n".join(m["text"] for m in self.last.get("messages", []))

    @property
    def state(self) -> dict[str, Any]:
        return self.last["state"]


@pytest.fixture
def chat(assistant: Assistant) -> Callable[..., Chat]:
    return lambda brand=None: Chat(assistant, brand)
