"""bot.config: config.yml plus WALLETBOT_ environment overrides, read in one typed place that
names the key when it fails."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from bot.config import Settings, load_settings
from bot.errors import ConfigError

CONFIG = """\
default_brand: kdou
paths:
  data: content
  models: ../models
storage:
  database_url: sqlite:///walletbot.db
http:
  port: 8000
brands:
  kdou:
    name: K豆钱包
    website: https://kdou.example
    phone: "<客服电话>"
  upay:
    name: Upay
"""
# The ui: and console: texts are required sections; these tests take the shipped ones as they are.
_SHIPPED = yaml.safe_load((Path(__file__).parents[1] / "config.yml").read_text(encoding="utf-8"))
CONFIG += yaml.safe_dump({"ui": _SHIPPED["ui"], "console": _SHIPPED["console"]}, allow_unicode=True)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "deploy" / "config.yml"
    path.parent.mkdir()
    path.write_text(CONFIG, encoding="utf-8")
    return path


def test_values_from_the_file_and_defaults_for_the_rest(config_file: Path) -> None:
    settings = load_settings(config_file, environ={})
    assert settings.http.port == 8000
    assert settings.http.host == "127.0.0.1"  # not in the file: the default
    assert settings.nlu.intent_threshold == 0.45
    assert settings.storage.redis_url is None
    assert settings.brand(None).name == "K豆钱包"
    assert settings.brand("upay").name == "Upay"


def test_relative_paths_are_resolved_against_the_config_folder(config_file: Path, monkeypatch) -> None:
    monkeypatch.chdir(config_file.parent.parent)  # whatever the working directory
    settings = load_settings(config_file, environ={})
    folder = config_file.parent.resolve()
    assert settings.data_dir == folder / "content"
    assert settings.models_dir == folder.parent / "models"
    assert settings.database_url == f"sqlite:///{folder / 'walletbot.db'}"


@pytest.mark.parametrize(
    "url",
    ["sqlite:///:memory:", "sqlite:////var/lib/walletbot.db", "postgresql+psycopg://bot@db/walletbot"],
)
def test_absolute_and_non_file_database_urls_are_kept(config_file: Path, url: str) -> None:
    settings = load_settings(config_file, environ={"WALLETBOT_STORAGE_DATABASE_URL": url})
    assert settings.database_url == url


def test_environment_overrides_section_keys_parsed_as_yaml_scalars(config_file: Path) -> None:
    settings = load_settings(
        config_file,
        environ={
            "WALLETBOT_HTTP_PORT": "9001",
            "WALLETBOT_NLU_INTENT_THRESHOLD": "0.6",  # no nlu section in the file: a known key still works
            "WALLETBOT_METRICS_ENABLED": "false",
            "WALLETBOT_HTTP_TRUSTED_PROXIES": "[10.0.0.0/8, 192.0.2.1]",
            "WALLETBOT_DEFAULT_BRAND": "upay",
        },
    )
    assert settings.http.port == 9001
    assert settings.nlu.intent_threshold == 0.6
    assert settings.metrics.enabled is False
    assert settings.http.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]
    assert settings.default_brand == "upay"


@pytest.mark.parametrize(
    ("name", "value", "read"),
    [
        # Parsed as YAML these became a mapping, the number 83 (octal), and "abc" (a comment).
        ("WALLETBOT_STORAGE_DATABASE_URL", "sqlite:///:memory:", lambda s: s.database_url),
        ("WALLETBOT_METRICS_TOKEN", "0123", lambda s: s.metrics.token.get_secret_value()),
        ("WALLETBOT_METRICS_TOKEN", "abc #def", lambda s: s.metrics.token.get_secret_value()),
        ("WALLETBOT_HTTP_HOST", "true", lambda s: s.http.host),
        ("WALLETBOT_STORAGE_REDIS_URL", "redis://:p@ss: word@cache:6379/0", lambda s: s.storage.redis_url),
    ],
)
def test_text_keys_take_the_environment_value_as_written(
    config_file: Path, name: str, value: str, read: Callable[[Settings], str]
) -> None:
    assert read(load_settings(config_file, environ={name: value})) == value


def test_an_empty_environment_value_means_none(config_file: Path) -> None:
    settings = load_settings(config_file, environ={"WALLETBOT_STORAGE_REDIS_URL": ""})
    assert settings.storage.redis_url is None


def test_the_short_database_alias_and_the_long_name(config_file: Path) -> None:
    alias = load_settings(config_file, environ={"WALLETBOT_DATABASE_URL": "sqlite:///:memory:"})
    assert alias.database_url == "sqlite:///:memory:"
    both = load_settings(
        config_file,
        environ={"WALLETBOT_DATABASE_URL": "sqlite:///:memory:", "WALLETBOT_STORAGE_DATABASE_URL": "sqlite:////a.db"},
    )
    assert both.database_url == "sqlite:////a.db"  # the section key is the more specific


def test_walletbot_config_names_the_file(config_file: Path) -> None:
    settings = load_settings(environ={"WALLETBOT_CONFIG": str(config_file)})
    assert settings.root == config_file.parent.resolve()


def test_a_digits_only_metrics_token_stays_text_and_hides_itself(config_file: Path) -> None:
    settings = load_settings(config_file, environ={"WALLETBOT_METRICS_TOKEN": "123456"})
    assert settings.metrics.token is not None
    assert settings.metrics.token.get_secret_value() == "123456"
    assert "123456" not in repr(settings.metrics)


def test_the_storage_section_never_shows_its_urls(config_file: Path) -> None:
    settings = load_settings(config_file, environ={"WALLETBOT_DATABASE_URL": "postgresql://bot:s3cret@db/w"})
    assert repr(settings.storage) == "Storage(database_url='***', redis_url='***')"


# --------------------------------------------------------------------------- failures name the key


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path / "nowhere.yml", environ={})
    assert str(error.value) == (
        f"Config file '{tmp_path / 'nowhere.yml'}' not found: run from the project folder or set WALLETBOT_CONFIG."
    )


def test_a_file_that_is_not_yaml_or_not_a_mapping(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text("http: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(broken, environ={})
    assert str(error.value).startswith(f"Config file '{broken}' is not valid YAML: ")

    listed = tmp_path / "list.yml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(listed, environ={})
    assert str(error.value) == f"Config file '{listed}' must hold a mapping at the top level."


def test_a_bad_value_from_the_environment_names_the_key_and_the_value(config_file: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(config_file, environ={"WALLETBOT_HTTP_PORT": "70000"})
    assert str(error.value) == (
        f"Config 'http.port' in '{config_file}' is invalid: Input should be less than or equal to 65535 (got 70000)."
    )


def test_an_unknown_key_is_refused_by_name(config_file: Path) -> None:
    config_file.write_text(CONFIG + "nlu:\n  intent_treshold: 0.5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_settings(config_file, environ={})
    assert str(error.value) == (
        f"Config 'nlu.intent_treshold' in '{config_file}' is invalid: Extra inputs are not permitted (got 0.5)."
    )


def test_the_default_brand_must_be_one_of_the_brands(config_file: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(config_file, environ={"WALLETBOT_DEFAULT_BRAND": "acme"})
    assert str(error.value) == "Config 'default_brand' is 'acme', which is not one of brands: kdou, upay."


def test_an_unknown_brand_lists_the_known_ones(config_file: Path) -> None:
    settings = load_settings(config_file, environ={})
    with pytest.raises(ConfigError) as error:
        settings.brand("acme")
    assert str(error.value) == "Unknown brand 'acme': known brands are kdou, upay."


# --------------------------------------------------------------------------- brands


def test_unset_brand_facts_are_empty_or_placeholders(config_file: Path) -> None:
    kdou = load_settings(config_file, environ={}).brand("kdou")
    assert kdou.unset_facts() == ["phone", "email", "service_hours"]
    assert kdou.placeholders()["website"] == "https://kdou.example"
    assert kdou.placeholders()["email"] == ""  # None is not written into a text
    assert kdou.sla_hours == {"urgent": 1.0, "high": 4.0, "normal": 24.0, "low": 72.0}


# The dialogue's hand-chosen thresholds (docs/accuracy.md, "Dialogue thresholds").
DIALOGUE_THRESHOLDS = {"person_hint_share": 0.002, "sure_clause": 0.9, "asked_faq_lead": 0.15, "sure_outcome": 0.9}


def test_the_dialogue_thresholds_ship_with_their_defaults_and_a_description() -> None:
    shipped = load_settings(Path(__file__).parents[1] / "config.yml", environ={}).dialogue
    fields = type(shipped).model_fields
    for key, value in DIALOGUE_THRESHOLDS.items():
        assert getattr(shipped, key) == value  # config.yml states the value the code used to hold
        assert fields[key].default == value
        assert fields[key].description and "\n" not in fields[key].description


@pytest.mark.parametrize("key", sorted(DIALOGUE_THRESHOLDS))
def test_a_dialogue_threshold_is_a_share_from_0_to_1(config_file: Path, key: str) -> None:
    env = f"WALLETBOT_DIALOGUE_{key.upper()}"
    assert getattr(load_settings(config_file, environ={env: "0.5"}).dialogue, key) == 0.5
    with pytest.raises(ConfigError) as error:
        load_settings(config_file, environ={env: "1.5"})
    assert str(error.value) == (
        f"Config 'dialogue.{key}' in '{config_file}' is invalid: Input should be less than or equal to 1 (got 1.5)."
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config_file, environ={env: "-0.1"})
    assert str(error.value) == (
        f"Config 'dialogue.{key}' in '{config_file}' is invalid: Input should be greater than or equal to 0 (got -0.1)."
    )
