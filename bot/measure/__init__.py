"""Measuring the assistant: `walletbot eval` (how well it understands) and `walletbot bench`
(how fast it answers), each a reproducible number with a stable JSON form.

    bot.measure.evaluate   intent accuracy on a labelled TSV, cross-validation on data/nlu,
                           FAQ retrieval with alternates held out
                           (split by what it evaluates: labelled, scoring, faq_eval, ood_eval, plot)
    bot.measure.bench      cold start, in-process latency, HTTP latency and throughput, training time
    bot.measure.scenarios  whole conversations (../shared/eval/CONVERSATIONS.md) run through the
                           engine on a throwaway database and checked turn by turn (`walletbot test`)
                           (the file is read and validated by bot.measure.scenario_file)
    bot.measure.commands   the click commands `eval`, `bench` and `test` for the `walletbot` group

This module stays cheap to import (no numpy, no scikit-learn): the CLI imports it to register
the commands, and the heavy modules are imported only when a command runs.
"""

from __future__ import annotations

from collections.abc import Sequence

import wcwidth

from bot.errors import WalletbotError


class MeasureError(WalletbotError):
    """An evaluation or a benchmark cannot run (bad input file, server that does not start...)."""

    code = "measure_failed"


def display_width(text: str) -> int:
    """Terminal columns taken by `text` (wcwidth): CJK characters and emoji are two columns wide,
    combining marks and zero-width characters none, colour codes are not counted."""
    return int(wcwidth.width(text))


def text_table(headers: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """A plain-text table; `align` has one letter per column, 'l' or 'r' (default: 'l' for the
    first column, 'r' for the others, which suits a name followed by numbers)."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    columns = len(headers)
    align = align or "l" + "r" * (columns - 1)
    widths = [max(display_width(row[i]) for row in cells) for i in range(columns)]

    def line(row: list[str]) -> str:
        pad = {"l": wcwidth.ljust, "r": wcwidth.rjust}
        return "  ".join(pad[align[i]](value, widths[i]) for i, value in enumerate(row)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule] + [line(row) for row in cells[1:]])


__all__ = ["MeasureError", "display_width", "text_table"]
