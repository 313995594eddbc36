"""bot.yamlio: YAML with the line of every key and item, problems as file:line, and the Chinese
gloss of each kind of problem."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest

from bot.yamlio import (
    LineDict,
    LineList,
    Problem,
    YamlFileError,
    load_yaml,
    load_yaml_text,
    problem_texts,
)

DOC = """\
# a comment
title: 充值失败
steps:
  - id: check
    say: 网络正常吗？
  - id: done

    say: 好的
empty:
number: 3
"""


def test_mappings_and_lists_know_their_lines() -> None:
    doc = load_yaml_text(DOC, "flows/topup.yml")
    assert isinstance(doc, LineDict) and doc.line == 2
    assert [doc.line_of(k) for k in ("title", "steps", "empty", "number")] == [2, 3, 9, 10]
    steps = doc["steps"]
    assert isinstance(steps, LineList)
    assert (steps.line, steps.lines) == (4, [4, 6])
    assert steps[1].line_of("say") == 8  # a blank line inside an item is counted
    assert doc == {
        "title": "充值失败",
        "steps": [{"id": "check", "say": "网络正常吗？"}, {"id": "done", "say": "好的"}],
        "empty": None,
        "number": 3,
    }


def test_an_unknown_key_or_index_falls_back_to_the_line_of_its_container() -> None:
    doc = load_yaml_text(DOC, "f.yml")
    assert doc.line_of("missing") == 2
    assert doc["steps"].line_of(5) == 4
    assert doc["steps"].line_of(-1) == 4


def test_line_containers_survive_copies_and_pickling() -> None:
    doc = load_yaml_text(DOC, "f.yml")
    for twin in (copy.deepcopy(doc), pickle.loads(pickle.dumps(doc))):
        assert twin == doc
        assert twin.line_of("number") == 10
        assert twin["steps"].line_of(1) == 6


def test_a_round_trip_through_plain_yaml_keeps_the_content() -> None:
    import yaml

    doc = load_yaml_text(DOC, "f.yml")
    again = load_yaml_text(yaml.safe_dump(yaml.safe_load(DOC), allow_unicode=True), "f.yml")
    assert again == doc


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: 1\nx: !!python/name:os.system\n", "could not determine a constructor for the tag"),
        # On a sequence or a mapping the tag used to be dropped and the value kept as plain data.
        (
            "a: 1\nx: !!python/object/apply:os.system ['true']\n",
            "the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not supported; remove it",
        ),
        ("a: 1\nx: !!set {a, b}\n", "the tag 'tag:yaml.org,2002:set' is not supported; remove it"),
        ("a: 1\nx: !custom\n  b: 2\n", "the tag '!custom' is not supported; remove it"),
    ],
)
def test_only_plain_yaml_is_built(text: str, message: str) -> None:
    with pytest.raises(YamlFileError) as error:
        load_yaml_text(text, "evil.yml")
    problem = error.value.problem
    assert (problem.file, problem.line, problem.code) == ("evil.yml", 2, "invalid_yaml")
    assert problem.message.startswith("invalid YAML value: " + message)


def test_a_duplicate_key_is_an_error_at_its_second_line() -> None:
    with pytest.raises(YamlFileError) as error:
        load_yaml_text("a: 1\nb: 2\na: 3\n", "dup.yml")
    assert str(error.value) == (
        "dup.yml:3: key 'a' appears twice in the same mapping (first at line 1); "
        "the second would silently replace the first"
    )
    assert error.value.problem.code == "duplicate_key"


def test_a_syntax_error_names_its_line() -> None:
    with pytest.raises(YamlFileError) as error:
        load_yaml_text("a: 1\nb: [1, 2\nc: 3\n", "bad.yml")
    problem = error.value.problem
    assert (problem.file, problem.code) == ("bad.yml", "invalid_yaml")
    assert problem.line == 3
    assert problem.message.startswith("invalid YAML: ")


def test_an_empty_document_is_none() -> None:
    assert load_yaml_text("", "e.yml") is None
    assert load_yaml_text("# only a comment\n", "e.yml") is None


def test_files_that_are_not_utf8_or_cannot_be_read(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yml"
    latin.write_bytes("title: caf\xe9\n".encode("latin-1"))
    with pytest.raises(YamlFileError) as error:
        load_yaml(latin, "data/latin.yml")
    assert error.value.problem.code == "not_utf8"
    assert str(error.value).startswith("data/latin.yml:1: file is not UTF-8 text (")
    assert str(error.value).endswith("); save it as UTF-8")

    with pytest.raises(YamlFileError) as error:
        load_yaml(tmp_path / "missing.yml")
    assert error.value.problem.code == "unreadable"
    assert str(error.value) == f"{tmp_path / 'missing.yml'}:1: cannot read file: No such file or directory"


def test_a_problem_reads_as_file_line_message_and_its_gloss() -> None:
    error = Problem("data/faq/x.yml", 14, "answer missing", code="faq_entry")
    warning = Problem("data/faq/x.yml", 3, "few examples", "warning", code="few_examples")
    assert str(error) == "data/faq/x.yml:14: answer missing"
    assert str(warning) == "data/faq/x.yml:3: warning: few examples"
    assert str(error.glossed()) == f"data/faq/x.yml:14: answer missing — {problem_texts()['faq_entry']}"
    assert warning.glossed().zh == problem_texts()["warning_prefix"] + problem_texts()["few_examples"]
    assert Problem("f.yml", 1, "x", code="no_such_code").glossed().zh == ""
    assert error.glossed().as_dict() == {
        "file": "data/faq/x.yml",
        "line": 14,
        "severity": "error",
        "code": "faq_entry",
        "message": "answer missing",
        "zh": problem_texts()["faq_entry"],
    }


def test_problem_texts_are_read_once_and_are_all_text() -> None:
    texts = problem_texts()
    assert texts is problem_texts()
    assert texts["warning_prefix"] == "警告："
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in texts.items())
