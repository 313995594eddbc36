"""`walletbot faq search` and `walletbot faq test`: FAQ retrieval previewed and tested before
publishing, with the index the server builds (no trained model needed).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import TYPE_CHECKING

import click

from bot.cli_support import EXIT_ERROR, settings_of
from bot.config import Settings
from bot.errors import ContentError

if TYPE_CHECKING:
    from bot.faq.index import FaqIndex


def faq_index(settings: Settings) -> FaqIndex:
    """The FAQ index as the server builds it, without needing a trained model."""
    from bot.content import errors_of, load_content
    from bot.faq.index import FaqIndex, load_synonym_subset
    from bot.nlu.features import Tokenizer

    content = load_content(settings)
    errors = [p for p in errors_of(content.problems) if "/faq/" in p.file or p.file.startswith("faq")]
    if errors:
        raise ContentError(errors)
    terms = content.training.lookups.get("domain_terms", []) + content.training.lookups.get("payment_method", [])
    return FaqIndex(
        content.faq,
        Tokenizer(content.training.synonyms, terms, content.training.gazetteers()),
        synonyms=load_synonym_subset(settings.models_dir),
    )


@click.group()
def faq() -> None:
    """Preview and test FAQ retrieval before publishing."""


@faq.command("search")
@click.argument("question")
@click.option("--brand", default=None, help="only entries this brand sees")
@click.option("-k", "limit", type=click.IntRange(min=1), default=5, show_default=True, help="how many entries to show")
@click.pass_context
def faq_search(ctx: click.Context, question: str, brand: str | None, limit: int) -> None:
    """Show the entries a user question would hit, with scores and the words that matched."""
    from bot.nlu.normalize import normalize

    settings = settings_of(ctx)
    if brand is not None:
        settings.brand(brand)  # ConfigError names the known brands
    index = faq_index(settings)
    hits = index.search(normalize(question), brand=brand, k=limit)
    answer, suggest = settings.faq.answer_threshold, settings.faq.suggest_threshold
    if not hits:
        click.echo("no FAQ entry shares a word with this question")
    for rank, hit in enumerate(hits, start=1):
        verdict = (
            "answers"
            if rank == 1 and settings.faq.answers(hit)
            else "suggested"
            if hit.score >= suggest
            else "too weak"
        )
        click.echo(f"{rank}. {hit.entry.id:<28} {hit.score:.3f}  {verdict}")
        click.echo(f"     best wording: {hit.best_text}")
        click.echo(f"     matched: {'、'.join(hit.matched) or '(pinyin or character pairs only)'}")
    click.echo(
        f"thresholds: answer ≥ {answer} with a lead ≥ {settings.faq.answer_margin}, suggest ≥ {suggest} (config.yml faq.*)"
    )


@faq.command("test")
@click.option("--held-out", is_flag=True, help="remove each wording from the index while testing it (stricter)")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def faq_test(ctx: click.Context, held_out: bool, fmt: str) -> None:
    """Every question and alternate must find its own entry first; thin wins are listed too."""
    from bot.faq.quality import check_wordings

    checks = check_wordings(faq_index(settings_of(ctx)), held_out=held_out)
    failed = [c for c in checks if c.status == "fail"]
    thin = [c for c in checks if c.status == "thin"]
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "checked": len(checks),
                    "failed": len(failed),
                    "thin": len(thin),
                    "problems": [dataclasses.asdict(c) for c in failed + thin],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for c in failed + thin:
            if c.status == "fail":
                click.echo(
                    f"FAIL  {c.entry_id:<26} {c.wording!r} is taken by '{c.winner_id}' (own score {c.score:.3f}, {c.margin:+.3f})"
                )
            else:
                click.echo(f"thin  {c.entry_id:<26} {c.wording!r} wins by {c.margin:.3f} over '{c.runner_up_id}'")
        click.echo(f"{len(checks)} wordings: {len(failed)} fail, {len(thin)} thin margin")
    if failed:
        sys.exit(EXIT_ERROR)
