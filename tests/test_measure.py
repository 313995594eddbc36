"""`walletbot eval` and `walletbot bench`: scores on a fixture with known answers through the real
trained model, the stable JSON shapes, clear errors, and a real benchmark in quick mode."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_fixtures import CONFIG

from bot.config import Settings
from bot.measure import MeasureError, display_width, evaluate, text_table
from bot.measure.commands import bench_command, eval_command
from bot.nlu.pipeline import NLU
from bot.nlu.training_data import TrainingData

POSTGRES_URL_ENV = "WALLETBOT_TEST_POSTGRES_URL"  # as in conftest.py

# Ten rows whose predictions are certain (training-like wordings, confidence ≈ 1), labelled so the
# scores are known: 8 in-scope rows of which 6 are right (one through alt_intent), two greetings
# labelled `limits` (the worst confusion), and two out_of_scope rows of which one is rejected.
FIXTURE = """intent\tquestion\talt_intent\tsource
forgot_password\t我忘记支付密码了怎么办\t\tfixture
topup_problem\t充值失败了\t\tfixture
withdrawal_problem\t提现一直不到账\t\tfixture
account_frozen\t我的账户被冻结了\t\tfixture
refund\t退款什么时候到账\t\tfixture
payment_problem\t转人工\thuman_handoff\tfixture
limits\t你好\t\tfixture
limits\t你好呀\t\tfixture
out_of_scope\t今天天气怎么样\t\tfixture
out_of_scope\t你是机器人吗\t\tfixture
"""

SCORE_KEYS = {"in_scope", "out_of_scope", "macro_f1", "per_intent", "confusion", "worst_confusions", "calibration"}
INTENT_KEYS = SCORE_KEYS | {"file", "rows", "intent_threshold", "model", "seconds"}
FAQ_KEYS = {
    "entries",
    "queries",
    "depth",
    "top1",
    "top3",
    "mrr",
    "answer_threshold",
    "answer_margin",
    "answered_correctly",
    "answered_wrongly",
    "per_topic",
    "misses",
    "fusion",
    "calibration",
    "seconds",
}


@pytest.fixture
def fixture_file(tmp_path: Path) -> Path:
    path = tmp_path / "questions.tsv"
    path.write_text(FIXTURE, encoding="utf-8")
    return path


def _env(settings: Settings) -> dict[str, str]:
    """Environment that points a command at the test's model and database."""
    return {
        "WALLETBOT_PATHS_MODELS": str(settings.models_dir),
        "WALLETBOT_STORAGE_DATABASE_URL": settings.database_url,
    }


# --------------------------------------------------------------------------- intents


def test_eval_scores_a_file_with_known_answers(settings: Settings, fixture_file: Path):
    rows = evaluate.read_eval_file(fixture_file)
    report = evaluate.evaluate_intents(settings, rows, source=str(fixture_file), nlu=NLU.load(settings.models_dir))

    assert report["rows"] == 10
    assert report["in_scope"] == {"rows": 8, "correct": 6, "accuracy": 0.75, "confident_correct": 0.75, "rejected": 0.0}
    assert report["out_of_scope"]["rows"] == 2
    assert report["out_of_scope"]["rejected"] == 1
    assert report["out_of_scope"]["rejection_rate"] == 0.5
    # 8 labels: six perfect, limits 0, out_of_scope P=1 R=0.5 -> F1 2/3.
    assert report["macro_f1"] == pytest.approx((6 + 2 / 3) / 8, abs=1e-4)
    assert report["per_intent"]["human_handoff"]["f1"] == 1.0  # the alt_intent row counts under its alt
    assert report["per_intent"]["limits"] == {"support": 2, "precision": 0.0, "recall": 0.0, "f1": 0.0}

    worst = report["worst_confusions"]
    assert [(w["intent"], w["predicted"], w["count"]) for w in worst] == [
        ("limits", "greet", 2),
        ("out_of_scope", "bot_challenge", 1),
    ]
    assert {e["question"] for e in worst[0]["examples"]} == {"你好", "你好呀"}

    confusion = report["confusion"]
    labels = confusion["labels"]
    assert "greet" in labels and "bot_challenge" in labels and len(labels) == 10
    assert confusion["matrix"][labels.index("limits")][labels.index("greet")] == 2
    assert sum(map(sum, confusion["matrix"])) == 10

    buckets = report["calibration"]["buckets"]
    assert len(buckets) == 10 and sum(b["rows"] for b in buckets) == 10
    assert round(sum(b["rows"] * (b["accuracy"] or 0) for b in buckets)) == 7  # 6 in scope + 1 rejected


def test_score_applies_the_threshold_and_alt_intent():
    rows = [
        evaluate.LabelledQuestion("a", "refund", "payment_problem"),
        evaluate.LabelledQuestion("b", "refund"),
        evaluate.LabelledQuestion("c", "out_of_scope"),
        evaluate.LabelledQuestion("d", "out_of_scope"),
    ]
    predictions = [
        evaluate.Prediction("payment_problem", 0.9),  # right through alt_intent
        evaluate.Prediction("refund", 0.3),  # right intent, but too unsure to act on
        evaluate.Prediction("greet", 0.2),  # below the threshold: rejected
        evaluate.Prediction("greet", 0.8),  # confidently wrong: not rejected
    ]
    scores = evaluate.score(rows, predictions, intent_threshold=0.45)
    assert scores["in_scope"] == {"rows": 2, "correct": 2, "accuracy": 1.0, "confident_correct": 0.5, "rejected": 0.5}
    assert scores["out_of_scope"]["rejection_rate"] == 0.5
    assert scores["out_of_scope"]["predicted_out_of_scope"] == 0.0
    assert scores["worst_confusions"][0]["intent"] == "out_of_scope"
    assert [e["confidence"] for e in scores["worst_confusions"][0]["examples"]] == [0.8, 0.2]  # most confident first
    assert scores["calibration"]["buckets"][2]["rows"] == 1  # 0.2 falls in [0.2, 0.3)


def test_score_per_intent_figures_and_confusion_orientation():
    """sklearn.metrics' edge cases, counted by hand: an intent never predicted (precision 0, no
    warning: warnings fail the suite), one predicted but never labelled (in the matrix, not in
    per_intent), and the matrix's rows as expected, columns as predicted."""
    labelled = ["refund", "refund", "refund", "limits", "greet"]
    said = ["refund", "refund", "greet", "greet", "bot_challenge"]
    rows = [evaluate.LabelledQuestion(str(i), intent) for i, intent in enumerate(labelled)]
    predictions = [evaluate.Prediction(intent, 0.9) for intent in said]
    scores = evaluate.score(rows, predictions, intent_threshold=0.45)
    assert scores["per_intent"] == {
        "greet": {"support": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0},
        "limits": {"support": 1, "precision": 0.0, "recall": 0.0, "f1": 0.0},
        # 2 of 3 found, both predictions right: F1 = 2 * 1 * 2/3 / (1 + 2/3) = 0.8
        "refund": {"support": 3, "precision": 1.0, "recall": 0.6667, "f1": 0.8},
    }
    assert scores["macro_f1"] == pytest.approx(0.8 / 3, abs=1e-4)
    assert scores["confusion"] == {
        "labels": ["bot_challenge", "greet", "limits", "refund"],
        "matrix": [[0, 0, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 2]],
    }
    assert all(type(v) is int for row in scores["confusion"]["matrix"] for v in row)  # JSON, not numpy


def test_score_of_nothing_is_empty_not_an_error():
    scores = evaluate.score([], [], intent_threshold=0.45)
    assert (scores["macro_f1"], scores["per_intent"], scores["confusion"]) == (None, {}, {"labels": [], "matrix": []})


def test_eval_command_json_shape_is_stable(settings: Settings, fixture_file: Path):
    result = CliRunner().invoke(
        eval_command, [str(fixture_file), "--format", "json", "--config", str(CONFIG)], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == {"schema", "intent", "cross_validation", "faq", "replies", "out_of_domain"}
    assert report["schema"] == "walletbot.eval/1"
    assert report["cross_validation"] is None and report["faq"] is None and report["replies"] is None
    assert report["out_of_domain"] is None
    intent = report["intent"]
    assert set(intent) == INTENT_KEYS
    assert set(intent["in_scope"]) == {"rows", "correct", "accuracy", "confident_correct", "rejected"}
    assert set(intent["out_of_scope"]) == {"rows", "rejected", "rejection_rate", "predicted_out_of_scope"}
    assert set(intent["model"]) == {"trained_at", "examples", "c", "fingerprint"}
    assert set(intent["confusion"]) == {"labels", "matrix"}
    assert set(intent["calibration"]) == {"buckets", "ece"}
    assert set(intent["calibration"]["buckets"][0]) == {"low", "high", "rows", "mean_confidence", "accuracy"}
    assert set(intent["worst_confusions"][0]) == {"intent", "predicted", "count", "examples"}
    assert set(intent["per_intent"]["refund"]) == {"support", "precision", "recall", "f1"}


def test_eval_command_text_report(settings: Settings, fixture_file: Path):
    result = CliRunner().invoke(eval_command, [str(fixture_file), "--config", str(CONFIG)], env=_env(settings))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "in-scope accuracy        75.0%  (6/8; intent or alt_intent, any confidence)" in out
    assert "out-of-scope rejection   50.0%  (1/2; predicted out_of_scope or confidence < 0.45)" in out
    assert "2 × limits -> greet" in out
    for section in ("Per intent", "Confusion matrix", "Worst confusions", "Calibration"):
        assert section in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "intent\tquestion\nrefund\t退款\nnope\t什么\n",
            "questions.tsv:3: unknown intent 'nope'; use one of forgot_password, ",
        ),
        ("intent\tquestion\nrefund\t\n", "questions.tsv:2: the question column is empty; every row needs a question."),
        (
            "label\ttext\nrefund\t退款\n",
            "questions.tsv:1: the header must name the columns intent and question (tab-separated); missing intent, question, found ['label', 'text'].",
        ),
        ("intent\tquestion\n", "has a header but no rows."),
    ],
)
def test_bad_eval_files_are_refused_with_file_and_line(tmp_path: Path, content: str, message: str):
    path = tmp_path / "questions.tsv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MeasureError) as caught:
        evaluate.read_eval_file(path)
    assert message in str(caught.value)


def test_eval_command_reports_a_bad_file_in_one_line(settings: Settings, tmp_path: Path):
    path = tmp_path / "questions.tsv"
    path.write_text("intent\tquestion\nnope\t什么\n", encoding="utf-8")
    result = CliRunner().invoke(eval_command, [str(path), "--config", str(CONFIG)], env=_env(settings))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}:2: unknown intent 'nope'; use one of ")
    assert result.stdout == ""


def test_plot_without_matplotlib_fails_before_any_work(
    settings: Settings, fixture_file: Path, monkeypatch: pytest.MonkeyPatch
):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real_find_spec(name, *a)
    )
    result = CliRunner().invoke(
        eval_command, [str(fixture_file), "--plot", "confusion.png", "--config", str(CONFIG)], env=_env(settings)
    )
    assert result.exit_code == 1
    assert result.stderr == (
        "error: --plot needs matplotlib, which is not installed (it is not a walletbot dependency): "
        "run `pip install 'walletbot[plot]'` (or `pip install matplotlib`) in this environment, or leave out --plot.\n"
    )


def test_plot_writes_a_png(settings: Settings, fixture_file: Path, tmp_path: Path):
    png = tmp_path / "confusion.png"
    result = CliRunner().invoke(
        eval_command, [str(fixture_file), "--plot", str(png), "--config", str(CONFIG)], env=_env(settings)
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_file_or_default_the_command_says_what_to_give(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(evaluate, "DEFAULT_EVAL_FILE", Path("no-such-folder") / "questions.tsv")
    result = CliRunner().invoke(eval_command, ["--config", str(CONFIG)], env=_env(settings))
    assert result.exit_code == 1
    assert "does not exist: name a TSV file, or use --cv, --faq or --ood." in result.stderr


# --------------------------------------------------------------------------- cross-validation


def _small_training_data() -> TrainingData:
    words = {
        "topup_problem": ["充值失败", "充不进去钱", "充值没到账", "钱充不进来", "充值一直失败", "充值不成功"],
        "refund": ["我要退款", "退款什么时候到", "申请退款", "退钱", "怎么退款", "退款进度"],
        "greet": ["你好", "您好", "在吗", "哈喽", "早上好", "你好呀"],
    }
    return TrainingData(examples=[(text, intent) for intent, texts in words.items() for text in texts])


def test_cross_validation_shape_and_sane_scores():
    report = evaluate.cross_validate(_small_training_data(), intent_threshold=0.45, folds=3)
    assert set(report) == {"folds", "examples", "seed", "c", "seconds", "per_fold", "accuracy", "macro_f1", "pooled"}
    assert report["folds"] == 3 and report["examples"] == 18
    assert len(report["per_fold"]) == 3 and sum(f["examples"] for f in report["per_fold"]) == 18
    assert set(report["accuracy"]) == {"mean", "std"}
    assert 0.5 <= report["accuracy"]["mean"] <= 1.0
    assert set(report["pooled"]) == SCORE_KEYS
    assert report["pooled"]["in_scope"]["rows"] == 18


def test_cross_validation_refuses_intents_with_too_few_examples():
    data = _small_training_data()
    data.examples = [e for e in data.examples if e[1] != "greet"] + [("你好", "greet"), ("您好", "greet")]
    with pytest.raises(MeasureError) as caught:
        evaluate.cross_validate(data, intent_threshold=0.45, folds=3)
    assert str(caught.value) == (
        "Cross-validation with 3 folds needs at least 3 examples per intent; 'greet' has 2: add examples or use fewer folds."
    )


# --------------------------------------------------------------------------- FAQ


def test_faq_evaluation_on_the_shipped_faq(settings: Settings):
    report = evaluate.evaluate_faq(settings, nlu=NLU.load(settings.models_dir))
    assert set(report) == FAQ_KEYS
    from bot.faq.knowledge import load_faq

    entries, _ = load_faq(settings.data_dir, settings.root)
    assert report["entries"] == len(entries)
    assert report["queries"] == sum(len(e.alternates) for e in entries)
    # Sane, not pinned: content edits move these numbers.
    assert 0.3 <= report["top1"] <= report["top3"] <= 1.0
    assert report["top1"] <= report["mrr"] <= 1.0
    assert report["answered_correctly"] + report["answered_wrongly"] <= 1.0
    assert sum(t["queries"] for t in report["per_topic"]) == report["queries"]
    assert all(m["rank"] != 1 for m in report["misses"])


# --------------------------------------------------------------------------- tables


def test_text_table_aligns_chinese_by_display_width():
    table = text_table(["名称", "n"], [["充值", 1], ["ab", 10]])
    assert table.splitlines() == ["名称   n", "----  --", "充值   1", "ab    10"]


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("充值", 4),
        ("ab", 2),
        ("，", 2),  # full-width punctuation
        ("ｱ", 1),  # half-width katakana
        ("e\u0301", 1),  # a combining accent takes no column
        ("\u200b", 0),  # zero-width space
        ("👍", 2),
        ("👨\u200d👩\u200d👧", 2),  # one emoji joined from three
        ("\x1b[31m红\x1b[0m", 2),  # colour codes take no column
    ],
)
def test_display_width_follows_wcwidth(text: str, width: int):
    assert display_width(text) == width


def test_text_table_pads_combining_marks_and_emoji_by_what_the_terminal_shows():
    table = text_table(["名称", "n"], [["e\u0301", 3], ["👍", 2]], align="lr")
    assert table.splitlines() == ["名称  n", "----  -", "e\u0301     3", "👍    2"]


# --------------------------------------------------------------------------- bench


def test_bench_quick_runs_a_real_server_and_reports_every_key(tmp_path: Path):
    output = tmp_path / "bench.json"
    result = CliRunner().invoke(
        bench_command,
        ["--quick", "--format", "json", "--output", str(output), "--config", str(CONFIG)],
        env={"WALLETBOT_STORAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'unused.db'}"},
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report == json.loads(output.read_text(encoding="utf-8"))
    assert set(report) == {
        "schema",
        "date",
        "quick",
        "code",
        "machine",
        "options",
        "training",
        "in_process",
        "servers",
        "scale_out",
        "targets",
        "seconds",
    }
    assert report["scale_out"] is None  # no --postgres
    assert set(report["code"]) == {"commit", "modified"}
    assert report["schema"] == "walletbot.bench/2" and report["quick"] is True
    assert report["options"]["load_generator"] == "wrk" and report["options"]["messages_per_conversation"] == 6
    assert {"cpus", "python", "packages", "load_average", "cpu_pressure_avg60"} <= set(report["machine"])
    assert report["machine"]["packages"]["walletbot"]
    assert set(report["training"]) == {"examples", "intents", "features", "fit_seconds", "seconds", "cli_seconds"}
    stages = report["in_process"]
    assert set(stages) == {"messages", "conversations", "handle", "handle_cpu", "nlu_parse", "faq_search"}
    assert stages["messages"] >= 300
    assert set(stages["handle"]) == {"p50_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms"}
    assert 0 < stages["handle"]["p50_ms"] <= stages["handle"]["p95_ms"] <= stages["handle"]["p99_ms"]

    [server] = report["servers"]
    assert set(server) == {
        "workers",
        "ready_seconds",
        "ready_cpu_seconds",
        "rss_ready_mb",
        "peak_rss_mb",
        "processes",
        "levels",
    }
    assert (
        server["workers"] == 1 and server["ready_seconds"] > 0 and server["peak_rss_mb"] >= server["rss_ready_mb"] > 50
    )
    assert [lv["concurrency"] for lv in server["levels"]] == [1, 8, 64]
    for level in server["levels"]:
        assert set(level) == {
            "concurrency",
            "seconds",
            "requests",
            "errors",
            "throughput",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "mean_ms",
            "max_ms",
            "server_cpu_ms_per_message",
            "client_cpu_ms_per_message",
        }
        assert level["requests"] > 0
        # At concurrency 64 a few requests can wait past SQLite's busy timeout and get a 503 (wrk
        # counts it as a "status" error)
        # (docs/performance.md, "Concurrency: SQLite's write lock"); nothing else may fail.
        allowed = {"503", "status"} if level["concurrency"] >= 64 else set()
        assert set(level["errors"]) <= allowed, level["errors"]
    assert [t["name"] for t in report["targets"]] == [
        "http_c8_throughput",
        "http_c1_p50_ms",
        "server_cpu_ms_per_message",
        "ready_seconds",
        "rss_mb",
        "training_seconds",
    ]
    assert all(t["measured"] is not None and isinstance(t["met"], bool) for t in report["targets"])


def test_benchmark_conversations_are_an_opening_and_typed_step_answers(settings: Settings):
    from bot.content import load_content
    from bot.measure import bench

    content = load_content(settings)
    conversations = bench.bench_conversations(content, settings.data_dir, 30)
    assert len(conversations) == 30 and all(len(c) == bench.MESSAGES_PER_CONVERSATION for c in conversations)
    assert conversations == bench.bench_conversations(content, settings.data_dir, 30)
    answers = {text for texts in bench.step_answers(settings.data_dir).values() for text in texts}
    assert all(set(c[1:]) <= answers for c in conversations)


def test_both_load_generators_send_whole_conversations_in_order(
    tmp_path: Path, settings: Settings, trained_models_dir: Path
):
    """wrk with chat.lua and the Python fallback against a real `walletbot serve`: every message
    answered, conversations continued with their id and token, each stored in order."""
    from bot.content import load_content
    from bot.measure import bench

    (tmp_path / bench.DATA_COPY).symlink_to(settings.data_dir)
    (tmp_path / bench.MODELS).symlink_to(trained_models_dir)
    conversations = bench.bench_conversations(load_content(settings), settings.data_dir, 40)
    conversations_file = bench.write_conversations(conversations, tmp_path / "conversations.txt")
    options = bench.BenchOptions(level_seconds=2.0, warmup_seconds=0.0)
    server = bench.start_server(CONFIG, 1, tmp_path)
    try:
        server.wait_ready(90)
        pids = server.pids()
        for generator in ("wrk", "python"):
            level = bench.load_level(generator, server.url, 2, options, conversations, conversations_file, pids)
            assert level["requests"] > 0 and level["errors"] == {}, (generator, level)
            assert level["server_cpu_ms_per_message"] > 0 and level["client_cpu_ms_per_message"] > 0
    finally:
        server.stop()
    order = bench.check_order(f"sqlite:///{tmp_path / 'serve-w1.db'}")
    assert order["out_of_order"] == 0, order
    assert order["messages"] >= 2 * order["conversations"] > 0, order  # conversations were continued


@pytest.mark.parametrize("postgres_url", [u for u in [os.environ.get(POSTGRES_URL_ENV)] if u])
def test_two_servers_sharing_postgresql_keep_each_conversation_in_order(
    postgres_url: str, tmp_path: Path, settings: Settings, trained_models_dir: Path
):
    """Two `walletbot serve` processes on one PostgreSQL schema, wrk's connections shared between
    them: every message answered, and each conversation stored in the order it was sent."""
    from bot.content import load_content
    from bot.measure import bench

    (tmp_path / bench.DATA_COPY).symlink_to(settings.data_dir)
    (tmp_path / bench.MODELS).symlink_to(trained_models_dir)
    conversations = bench.bench_conversations(load_content(settings), settings.data_dir, 40)
    conversations_file = bench.write_conversations(conversations, tmp_path / "conversations.txt")
    options = bench.BenchOptions(level_seconds=3.0, warmup_seconds=0.0)
    layout = bench.bench_layout(CONFIG, postgres_url, (1, 1), tmp_path, conversations_file, options)
    assert layout["processes"] == 2 and layout["requests"] > 0 and layout["errors"] == {}, layout
    assert layout["order"]["out_of_order"] == 0, layout["order"]
    assert layout["order"]["messages"] >= 2 * layout["order"]["conversations"] > 0, layout["order"]


# --------------------------------------------------------------------------- reply kinds


class _ReplyReader:
    """Reads each text as the kind it names after '>' ("好了>solved"), like NLU.read_reply."""

    def read_reply(self, text: str) -> tuple[tuple[str, float], ...]:
        return ((text.split(">")[1], 0.9),)


def test_evaluate_replies_counts_recall_per_kind_and_false_solved():
    from bot.measure.replies_eval import evaluate_replies

    rows = [
        {"text": "好了>solved", "kind": "solved"},
        {"text": "还是不行>failing", "kind": "failing"},
        {"text": "不行>solved", "kind": "failing"},
        {"text": "转人工>other", "kind": "other"},
    ]
    report = evaluate_replies(_ReplyReader(), rows, source="f.tsv")  # type: ignore[arg-type]
    assert report["accuracy"] == 0.75
    assert report["per_kind"] == {
        "solved": {"support": 1, "recall": 1.0},
        "failing": {"support": 2, "recall": 0.5},
        "other": {"support": 1, "recall": 1.0},
    }
    assert report["confusion"] == {
        "labels": ["solved", "failing", "other"],
        "matrix": [[1, 0, 0], [1, 1, 0], [0, 0, 1]],
    }
    assert report["false_solved"] == ["不行>solved"]


def test_a_file_of_one_reply_kind_has_a_one_by_one_matrix_and_no_warning():
    from bot.measure.replies_eval import evaluate_replies

    report = evaluate_replies(_ReplyReader(), [{"text": "好了>solved", "kind": "solved"}] * 3)  # type: ignore[arg-type]
    assert report["confusion"] == {"labels": ["solved"], "matrix": [[3]]}
    assert report["per_kind"] == {"solved": {"support": 3, "recall": 1.0}}
