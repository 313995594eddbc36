"""Live reload: valid edits go live within two seconds, broken ones never replace good content."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
from engine_fixtures import PROJECT, Chat, make_settings

from bot.engine import Assistant
from bot.reloader import ContentWatcher, reload_assistant


@pytest.fixture
def live(tmp_path: Path, trained_models_dir: Path):
    """An assistant over a private copy of config.yml, data/ and the trained model."""
    shutil.copy(PROJECT / "config.yml", tmp_path / "config.yml")
    shutil.copytree(PROJECT / "data", tmp_path / "data")
    shutil.copytree(trained_models_dir, tmp_path / "models")
    settings = make_settings(f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "models")
    settings = settings.model_copy(update={"root": tmp_path})
    bot = Assistant.from_settings(settings)
    watcher = ContentWatcher(bot, interval=0.2).start()
    yield bot, tmp_path / "data"
    watcher.stop()
    bot.close()


def wait_for(condition, seconds: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not true within {seconds} s")


def answer_to(bot: Assistant, question: str) -> str:
    chat = Chat(bot)
    chat.say(question)
    return chat.text()


def test_faq_edit_is_live_within_seconds_without_retraining(live):
    bot, data = live
    model_before = (bot.settings.models_dir / "nlu" / "meta.json").stat().st_mtime_ns
    path = data / "faq" / "security.yml"
    text = path.read_text(encoding="utf-8")
    marker = "【新版答案】"
    start = text.index("answer:", text.index("id: two_factor_auth"))
    path.write_text(
        text[:start] + f"answer: {marker}请在设置里开启双重验证。\n    " + text[text.index("tags:", start) :],
        encoding="utf-8",
    )
    wait_for(
        lambda: marker in answer_to(bot, "怎么开启双重验证"), 5.0
    )  # the FAQ index rebuild (BM25, 词林) takes ~1 s idle, more under -n 2
    assert (bot.settings.models_dir / "nlu" / "meta.json").stat().st_mtime_ns == model_before


def test_broken_file_keeps_old_content_and_reports_file_line(live, caplog):
    bot, data = live
    version = bot.reload_status.version
    before = answer_to(bot, "怎么开启双重验证")
    path = data / "faq" / "security.yml"
    good = path.read_text(encoding="utf-8")
    caplog.set_level(logging.ERROR, logger="walletbot.reload")
    path.write_text(good + "  - id: [broken\n", encoding="utf-8")
    # What this checks is that the old content stays, not how fast (that is the test above): a
    # loaded CI machine gets more time.
    wait_for(lambda: bot.reload_status.errors, 5.0)
    assert bot.reload_status.version == version
    assert any(e.startswith("data/faq/security.yml:") for e in bot.reload_status.errors), bot.reload_status.errors
    assert any("data/faq/security.yml:" in r.getMessage() for r in caplog.records)
    assert answer_to(bot, "怎么开启双重验证") == before  # still the last good content

    path.write_text(good.replace("双重验证", "双重验证（已更新）", 1), encoding="utf-8")
    wait_for(lambda: not bot.reload_status.errors and bot.reload_status.version != version, 5.0)


def test_nlu_edit_retrains_and_swaps(live):
    bot, data = live
    (data / "nlu" / "zz_new.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: contact_support\n  examples: |\n    - 找小蓝鲸热线\n    - 小蓝鲸热线号码\n',
        encoding="utf-8",
    )
    old_fingerprint = bot.runtime.nlu.classifier.meta["fingerprint"]
    wait_for(lambda: bot.runtime.nlu.classifier.meta["fingerprint"] != old_fingerprint, 60.0)
    assert not bot.reload_status.errors


def test_reload_now_reports_status(live):
    bot, _ = live
    status = reload_assistant(bot)
    assert status.errors == [] and status.version == bot.runtime.content.version


def test_a_model_another_worker_trained_is_loaded_not_trained_again(tmp_path: Path, trained_models_dir: Path):
    """`serve --workers 2`: both workers see the NLU edit; the second loads what the first trained."""
    shutil.copy(PROJECT / "config.yml", tmp_path / "config.yml")
    shutil.copytree(PROJECT / "data", tmp_path / "data")
    shutil.copytree(trained_models_dir, tmp_path / "models")
    settings = make_settings(f"sqlite:///{tmp_path / 'w.db'}", tmp_path / "models").model_copy(
        update={"root": tmp_path}
    )
    first, second = Assistant.from_settings(settings), Assistant.from_settings(settings)
    try:
        (tmp_path / "data" / "nlu" / "zz_new.yml").write_text(
            'version: "3.1"\nnlu:\n- intent: contact_support\n  examples: |\n    - 找小蓝鲸热线\n    - 小蓝鲸热线号码\n',
            encoding="utf-8",
        )
        reload_assistant(first)  # trains
        trained = first.runtime.nlu.classifier.meta
        reload_assistant(second)  # finds the new model on disk: loads it
        assert second.runtime.nlu.classifier.meta["fingerprint"] == trained["fingerprint"]
        assert second.runtime.nlu.classifier.meta["trained_at"] == trained["trained_at"]
        assert not list((tmp_path / "models" / "nlu").glob("*.tmp*"))
    finally:
        first.close()
        second.close()
