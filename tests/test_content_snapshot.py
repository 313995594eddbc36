"""Content that survives a restart (bot/content_snapshot.py): the last content that loaded is kept
in models/content-snapshot.json, served with a loud warning when data/ is broken at start-up,
refused with content.strict / `serve --strict-content`, and removed FAQ files or entries are
warnings naming them.

Each test works on its own copy of data/ and of the trained model, so nothing here writes into
the project or into the model the other tests share.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from engine_fixtures import PROJECT, make_settings

from bot.cli import main
from bot.config import Settings
from bot.content import load_content
from bot.content_snapshot import SNAPSHOT_FILE, read_snapshot, start_runtime
from bot.engine import Assistant
from bot.errors import ContentError
from bot.reloader import reload_assistant

BROKEN_YAML = "- id: [unclosed\n"


@pytest.fixture
def project(tmp_path: Path, trained_models_dir: Path) -> Path:
    """A copy of data/ and of the trained model in tmp_path."""
    shutil.copytree(PROJECT / "data", tmp_path / "data")
    shutil.copytree(trained_models_dir, tmp_path / "models", ignore=shutil.ignore_patterns("*.lock", SNAPSHOT_FILE))
    return tmp_path


def settings_for(project: Path, **env: str) -> Settings:
    return make_settings(
        f"sqlite:///{project / 'walletbot.db'}", project / "models", WALLETBOT_PATHS_DATA=str(project / "data"), **env
    )


def faq_ids(path: Path) -> list[str]:
    return [entry["id"] for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]]


def test_content_that_loads_is_kept_with_its_faq_entries(project: Path) -> None:
    settings = settings_for(project)
    runtime, fallback = start_runtime(settings, auto_train=False)
    assert fallback is None
    raw = json.loads((project / "models" / SNAPSHOT_FILE).read_text(encoding="utf-8"))
    assert raw["version"] == runtime.content.version and raw["data_dir"] == str(project / "data")
    assert raw["files"]["faq/security.yml"] == (project / "data" / "faq" / "security.yml").read_text(encoding="utf-8")
    assert raw["faq"]["faq/security.yml"] == faq_ids(project / "data" / "faq" / "security.yml")
    assert sum(len(ids) for ids in raw["faq"].values()) == len(runtime.content.faq)
    # Another data/ folder sharing the models folder does not see this snapshot.
    other = make_settings("sqlite://", project / "models", WALLETBOT_PATHS_DATA=str(PROJECT / "data"))
    assert read_snapshot(other) is None


@pytest.mark.parametrize(
    "broken",
    [
        "faq/security.yml",  # an FAQ file that is not YAML
        "responses.yml",  # the bot's own texts
        "nlu/greet.yml",  # training data: the model in models/ no longer matches data/
    ],
)
def test_a_broken_start_serves_the_last_content_that_loaded_with_a_loud_warning(
    project: Path, broken: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(project)
    good, _ = start_runtime(settings, auto_train=False)
    (project / "data" / broken).write_text(BROKEN_YAML, encoding="utf-8")

    with caplog.at_level(logging.ERROR, logger="walletbot.content"):
        runtime, fallback = start_runtime(settings, auto_train=False)

    assert fallback is not None and fallback.version == good.content.version
    assert runtime.content.version == good.content.version
    assert (
        len(runtime.content.faq) == len(good.content.faq) and runtime.content.flows.keys() == good.content.flows.keys()
    )
    assert fallback.problems and all(problem.severity == "error" for problem in fallback.problems)
    assert any(broken in problem.file for problem in fallback.problems), fallback.problems
    loud = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert "IS BROKEN" in loud[0] and good.content.version in loud[0], loud
    assert any(broken in line for line in loud[1:]), loud
    # The snapshot still holds the good files: a second broken start falls back the same way.
    assert read_snapshot(settings).files[broken] != BROKEN_YAML  # type: ignore[union-attr]


def test_strict_content_refuses_to_start_on_broken_files(project: Path) -> None:
    start_runtime(settings_for(project), auto_train=False)
    (project / "data" / "faq" / "security.yml").write_text(BROKEN_YAML, encoding="utf-8")
    with pytest.raises(ContentError) as refused:
        start_runtime(settings_for(project, WALLETBOT_CONTENT_STRICT="true"), auto_train=False)
    assert any("security.yml" in problem.file for problem in refused.value.problems)


def test_without_a_snapshot_broken_files_still_stop_the_start(project: Path) -> None:
    (project / "data" / "faq" / "security.yml").write_text(BROKEN_YAML, encoding="utf-8")
    with pytest.raises(ContentError):
        start_runtime(settings_for(project), auto_train=False)
    assert not (project / "models" / SNAPSHOT_FILE).exists()


def test_the_assistant_on_a_snapshot_says_why_and_a_fixed_file_reloads(project: Path) -> None:
    settings = settings_for(project)
    faq_file = project / "data" / "faq" / "security.yml"
    original = faq_file.read_text(encoding="utf-8")
    start_runtime(settings, auto_train=False)
    faq_file.write_text(BROKEN_YAML, encoding="utf-8")

    assistant = Assistant.from_settings(settings)
    try:
        old_version = assistant.runtime.content.version
        assert assistant.reload_status.errors and "security.yml" in assistant.reload_status.errors[0]
        conv, _token = assistant.start_conversation()
        assert conv  # it serves

        faq_file.write_text(original.replace("question:", "question:", 1) + "\n# edited\n", encoding="utf-8")
        status = reload_assistant(assistant)
        assert status.errors == [] and status.version != old_version
        assert read_snapshot(settings).version == status.version  # type: ignore[union-attr]
    finally:
        assistant.close()


def test_a_removed_faq_file_or_entry_is_a_warning_naming_it(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(project)
    start_runtime(settings, auto_train=False)
    removed_file = project / "data" / "faq" / "usage_tips.yml"
    gone_ids = faq_ids(removed_file)
    removed_file.unlink()
    security = project / "data" / "faq" / "security.yml"
    doc = yaml.safe_load(security.read_text(encoding="utf-8"))
    dropped = doc["entries"].pop()["id"]
    security.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")

    warnings = [p for p in load_content(settings, lint=False).problems if p.code == "faq_removed"]
    assert [p.severity for p in warnings] == ["warning", "warning"]
    by_file = {p.file: p.message for p in warnings}
    usage_tips, security_file = str(removed_file), str(security)  # absolute: data/ is outside the project here
    assert set(by_file) == {security_file, usage_tips}, by_file
    assert all(entry_id in by_file[usage_tips] for entry_id in gone_ids)
    assert f"FAQ entry '{dropped}' removed" in by_file[security_file]

    # Starting on the new content names them once in the log, then keeps it as the snapshot.
    with caplog.at_level(logging.WARNING, logger="walletbot.content"):
        _runtime, fallback = start_runtime(settings, auto_train=False)
    assert fallback is None
    assert sum("removed since content version" in r.getMessage() for r in caplog.records) == 2
    assert not [p for p in load_content(settings, lint=False).problems if p.code == "faq_removed"]


def test_an_faq_entry_moved_to_another_file_is_not_removed(project: Path) -> None:
    settings = settings_for(project)
    start_runtime(settings, auto_train=False)
    source, target = project / "data" / "faq" / "usage_tips.yml", project / "data" / "faq" / "moved.yml"
    source.rename(target)
    warnings = [p for p in load_content(settings, lint=False).problems if p.code == "faq_removed"]
    assert len(warnings) == 1 and "all live in other files now" in warnings[0].message, warnings


def test_validate_reports_removals_and_the_fallback_serve_would_use(project: Path) -> None:
    env = {
        "WALLETBOT_CONFIG": str(PROJECT / "config.yml"),
        "WALLETBOT_PATHS_DATA": str(project / "data"),
        "WALLETBOT_PATHS_MODELS": str(project / "models"),
    }
    runtime, _ = start_runtime(settings_for(project), auto_train=False)
    (project / "data" / "faq" / "usage_tips.yml").unlink()
    removed = CliRunner().invoke(main, ["validate", "--strict"], env=env)
    assert removed.exit_code == 2, removed.output  # a warning: --strict fails on it
    assert "/data/faq/usage_tips.yml:1: warning: FAQ file removed since content version" in removed.output

    (project / "data" / "responses.yml").write_text(BROKEN_YAML, encoding="utf-8")
    broken = CliRunner().invoke(main, ["validate"], env=env)
    assert broken.exit_code == 1, broken.output
    assert f"walletbot serve would start on the last content that loaded (version {runtime.content.version}" in (
        broken.output
    )


def test_serve_strict_content_exits_before_starting_workers(project: Path) -> None:
    env = {
        "WALLETBOT_CONFIG": str(PROJECT / "config.yml"),
        "WALLETBOT_PATHS_DATA": str(project / "data"),
        "WALLETBOT_PATHS_MODELS": str(project / "models"),
        "WALLETBOT_DATABASE_URL": f"sqlite:///{project / 'walletbot.db'}",
        "WALLETBOT_CONTENT_STRICT": "false",  # listed so that the runner restores it afterwards
    }
    start_runtime(settings_for(project), auto_train=False)
    (project / "data" / "responses.yml").write_text(BROKEN_YAML, encoding="utf-8")
    refused = CliRunner().invoke(main, ["serve", "--strict-content", "--port", "1"], env=env)
    assert refused.exit_code == 1, refused.output
    assert "responses.yml" in refused.output and "content error(s)" in refused.output
    assert "open http" not in refused.output


def test_serve_prepares_the_model_of_the_snapshot_it_will_fall_back_to(project: Path) -> None:
    from bot.content_snapshot import prepare_to_serve

    settings = settings_for(project)
    good, _ = start_runtime(settings, auto_train=False)
    assert prepare_to_serve(settings) is None
    (project / "data" / "nlu" / "greet.yml").write_text(BROKEN_YAML, encoding="utf-8")
    fallback = prepare_to_serve(settings)
    assert fallback is not None and fallback.version == good.content.version
    assert any("greet.yml" in problem.file for problem in fallback.problems)
    with pytest.raises(ContentError):
        prepare_to_serve(settings_for(project, WALLETBOT_CONTENT_STRICT="true"))
