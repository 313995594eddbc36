"""`walletbot eval`, `walletbot bench` and `walletbot test`: thin click wrappers over
bot.measure.evaluate, bot.measure.bench and bot.measure.scenarios. The CLI registers them on its
group:

    from bot.measure.commands import bench_command, eval_command, test_command
    main.add_command(eval_command)
    main.add_command(bench_command)
    main.add_command(test_command)

Each command also accepts `--config` itself, so it works the same on its own (tests call it
through click's runner). An error becomes one red line on stderr and exit code 1 (2 for `test`);
the settings, the config file and the one-line errors are bot.cli_support's.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bot.cli_support import EXIT_ERROR, config_path_of, errors_in_one_line, progress, settings_of
from bot.measure import MeasureError

EXIT_UNUSABLE = 2  # `walletbot test`: a bad scenario file or usage, as click exits on bad usage
_config_option = click.option(
    "--config",
    "config_option",
    type=click.Path(dir_okay=False),
    default=None,
    help="config file (default: the walletbot group's --config, $WALLETBOT_CONFIG or ./config.yml)",
)


def _emit_json(report: dict[str, Any]) -> None:
    click.echo(json.dumps(report, ensure_ascii=False, indent=2))


@click.command("eval")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write the confusion matrix as a PNG heatmap (needs matplotlib)",
)
@click.option("--cv", is_flag=True, help="5-fold stratified cross-validation on data/nlu (trains 5 models)")
@click.option("--faq", is_flag=True, help="FAQ retrieval: every alternate searched with itself held out of the index")
@click.option(
    "--ood",
    is_flag=True,
    help="out of domain: data/eval/out_of_domain.tsv, rejection by category (also part of a run without FILE or flags)",
)
@click.option("--folds", type=click.IntRange(2, 20), default=5, show_default=True, help="folds for --cv")
@click.option(
    "--replies",
    is_flag=True,
    help="reply kinds: typed answers to checklist steps, scored on data/eval/step_answers.tsv",
)
@_config_option
@click.pass_context
def eval_command(
    ctx: click.Context,
    file: Path | None,
    fmt: str,
    plot: Path | None,
    cv: bool,
    faq: bool,
    folds: int,
    ood: bool,
    replies: bool,
    config_option: str | None,
) -> None:
    """Measure understanding: intent accuracy, macro-F1, out-of-scope rejection, confusions and
    calibration on a labelled TSV (columns intent, question, optional alt_intent).

    FILE defaults to ../shared/eval/real_questions_dev.tsv next to the project when none of --cv,
    --faq, --ood, --replies is given (the out-of-domain set is then measured too); with them, FILE is
    evaluated only when named. The model is trained first if it is missing or stale.
    """

    def body() -> None:
        from bot.measure import evaluate

        settings = settings_of(ctx, config_option)
        path = file
        default_run = path is None and not (cv or faq or ood or replies)
        if default_run:
            path = evaluate.default_eval_file(settings)
            if path is None:
                raise MeasureError(
                    f"No evaluation file given, and the default '{(settings.root / evaluate.DEFAULT_EVAL_FILE).resolve()}' "
                    "does not exist: name a TSV file, or use --cv, --faq or --ood."
                )
        if plot is not None:
            if path is None and not cv:
                raise MeasureError("--plot draws the intent confusion matrix: name an evaluation FILE or add --cv.")
            evaluate.require_matplotlib()
        rows = evaluate.read_eval_file(path) if path is not None else None  # a bad file fails before training

        nlu = evaluate.load_nlu(settings, progress)
        report: dict[str, Any] = {
            "schema": evaluate.EVAL_SCHEMA,
            "intent": None,
            "cross_validation": None,
            "faq": None,
            "replies": None,
            "out_of_domain": None,
        }
        if rows is not None and path is not None:
            report["intent"] = evaluate.evaluate_intents(settings, rows, source=str(path), nlu=nlu, progress=progress)
        if cv:
            report["cross_validation"] = evaluate.cross_validate_project(settings, folds=folds, progress=progress)
        if faq:
            report["faq"] = evaluate.evaluate_faq(settings, nlu=nlu, progress=progress)
        if ood or (default_run and (settings.root / evaluate.OUT_OF_DOMAIN_FILE).is_file()):
            report["out_of_domain"] = evaluate.evaluate_out_of_domain(settings, nlu=nlu, progress=progress)
        if replies:
            from bot.measure import replies_eval

            answers = settings.root / replies_eval.STEP_ANSWERS_FILE
            from bot.engine import build_runtime

            rows_replies = replies_eval.read_step_answers(answers)
            report["replies"] = replies_eval.evaluate_replies(
                nlu, rows_replies, source=str(replies_eval.STEP_ANSWERS_FILE)
            )
            runtime = build_runtime(settings, nlu)
            report["replies"]["in_steps"] = replies_eval.evaluate_in_steps(
                runtime.policy, runtime.content.flows, rows_replies
            )

        if plot is not None:
            source = report["intent"] or report["cross_validation"]["pooled"]
            title = (
                f"Intent confusion: {path.name}"
                if report["intent"] and path is not None
                else f"Intent confusion: {folds}-fold cross-validation"
            )
            evaluate.plot_confusion(source["confusion"], plot, title)
            progress(f"confusion heatmap written to {plot}")

        if fmt == "json":
            _emit_json(report)
            return
        sections = []
        if report["intent"]:
            sections.append(evaluate.format_intent_report(report["intent"]))
        if report["cross_validation"]:
            sections.append(evaluate.format_cv_report(report["cross_validation"], settings.nlu.intent_threshold))
        if report["faq"]:
            sections.append(evaluate.format_faq_report(report["faq"]))
        if report["out_of_domain"]:
            sections.append(evaluate.format_out_of_domain_report(report["out_of_domain"]))
        if report["replies"]:
            from bot.measure.replies_eval import format_replies_report

            sections.append(format_replies_report(report["replies"]))
        click.echo("\n\n".join(sections))

    with errors_in_one_line():
        body()


@click.command("bench")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--quick", is_flag=True, help="a ~30 s smoke run: 300 messages, 1 s per HTTP level, one worker only")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the JSON report to this file",
)
@click.option(
    "--load-generator",
    "load_generator",
    type=click.Choice(["auto", "wrk", "python"]),
    default="auto",
    show_default=True,
    help="HTTP load from wrk (a C program, much less CPU per message) or from Python; auto: wrk when it is installed",
)
@click.option(
    "--postgres",
    "postgres_url",
    default=None,
    metavar="URL",
    help="also measure scale-out on this PostgreSQL database (1 and 2 workers, 2 processes; a fresh schema each, dropped afterwards)",
)
@_config_option
@click.pass_context
def bench_command(
    ctx: click.Context,
    fmt: str,
    quick: bool,
    output: Path | None,
    load_generator: str,
    postgres_url: str | None,
    config_option: str | None,
) -> None:
    """Measure speed: training time, cold start to ready (time, peak RSS), in-process latency of
    one message (p50/p95/p99), and HTTP latency, throughput and server CPU per message at
    concurrency 1, 8 and 64 against `walletbot serve --workers 1` and `--workers 2` started as
    subprocesses on loopback, sent multi-turn conversations.

    Uses a temporary model folder and databases; the project's models/ and database are not
    touched. The full run takes about two minutes.
    """

    def body() -> None:
        from bot.measure import bench

        settings = settings_of(ctx, config_option)
        report = bench.run_bench(
            settings,
            config_path_of(ctx, config_option),
            bench.BenchOptions.for_mode(quick, load_generator),
            progress,
            postgres_url,
        )
        if output is not None:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            progress(f"JSON report written to {output}")
        if fmt == "json":
            _emit_json(report)
        else:
            click.echo(bench.format_bench_report(report))

    with errors_in_one_line():
        body()


@click.command("test")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--only",
    "only",
    multiple=True,
    metavar="NAME-GLOB",
    help="run only scenarios whose name matches (glob; repeatable)",
)
@_config_option
@click.pass_context
def test_command(
    ctx: click.Context, files: tuple[Path, ...], fmt: str, only: tuple[str, ...], config_option: str | None
) -> None:
    """Run conversation scenarios (format: ../shared/eval/CONVERSATIONS.md) through the real
    engine on a throwaway database: one line per scenario, then `N passed, M failed`.

    Exit status: 0 all passed, 1 some failed, 2 a bad file or usage, or the bot could not run.
    The model is trained first if it is missing or stale.
    """
    from bot.measure import scenarios as sc

    with errors_in_one_line(EXIT_UNUSABLE):
        chosen = sc.select([s for path in files for s in sc.load_scenarios(path)], only)
        if not chosen:
            raise MeasureError(f"--only {' '.join(only)}: no scenario of {', '.join(map(str, files))} matches")
        with sc.ScenarioRunner(settings_of(ctx, config_option), progress=progress) as runner:
            results = runner.run_all(chosen, on_result=lambda r: click.echo(r.line()) if fmt == "text" else None)
    if fmt == "json":
        passed = sum(1 for r in results if r.passed)
        _emit_json({"passed": passed, "failed": len(results) - passed, "results": [r.as_dict() for r in results]})
    else:
        click.echo(sc.summary_line(results))
    sys.exit(0 if all(r.passed for r in results) else EXIT_ERROR)


__all__ = ["bench_command", "eval_command", "test_command"]
