"""FAQ retrieval measured on the shipped data/faq: every alternate of every entry searched with
that alternate held out of the index, the cross-validated fusion of the index's signals
(bot.measure.faq_fusion), and whether the calibration in use still matches today's data.

    report = evaluate_faq(settings)
    print(format_faq_report(report))
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.measure import text_table
from bot.measure.labelled import OUT_OF_SCOPE, Progress, load_nlu, num, pct, quiet, ratio

if TYPE_CHECKING:
    from bot.config import FaqSettings
    from bot.faq.index import FaqIndex
    from bot.nlu.pipeline import NLU

# How far the FAQ calibration in use may differ from the one today's data would choose before
# `walletbot eval --faq` prints the new knots.
CALIBRATION_TOLERANCE = 0.02
# FAQ hits searched per query: MRR is MRR@10 (a correct entry further down counts 0).
FAQ_DEPTH = 10
FAQ_MISSES_SHOWN = 15


def score_faq(index: FaqIndex, faq: FaqSettings, *, depth: int = FAQ_DEPTH) -> dict[str, Any]:
    """Search every alternate of every entry with that alternate held out of the index.

    Keys: entries, queries, depth, top1, top3, mrr (MRR@depth), answer_threshold, answer_margin,
    answered_correctly (top hit right, at or above the answer threshold and ahead of the next entry
    by the answer margin: the bot answers it directly), answered_wrongly (top hit wrong and as
    confident: a wrong answer is given), per_topic [{topic, queries, top1, top3, mrr}], misses [{id, alternate, got, score}]
    (top-1 misses, the most confident first).
    """
    from bot.nlu.normalize import normalize
    from bot.text import PLACEHOLDERS, fill

    blanks = {name: "" for name in PLACEHOLDERS}  # the index holds texts with placeholders blanked
    queries = top1 = top3 = answered_right = answered_wrong = 0
    reciprocal = 0.0
    by_topic: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0.0])
    misses: list[dict[str, Any]] = []
    for entry in index.entries:
        for alternate in entry.alternates:
            query = normalize(fill(alternate, blanks))
            if not query:
                continue
            hits = index.search(query, k=depth, exclude_text=query)
            ids = [hit.entry.id for hit in hits]
            rank = ids.index(entry.id) + 1 if entry.id in ids else None
            queries += 1
            topic = by_topic[entry.topic]
            topic[0] += 1
            if rank == 1:
                top1 += 1
                topic[1] += 1
            if rank is not None and rank <= 3:
                top3 += 1
                topic[2] += 1
            if rank is not None:
                reciprocal += 1 / rank
                topic[3] += 1 / rank
            if hits and faq.answers(hits[0]):
                if rank == 1:
                    answered_right += 1
                else:
                    answered_wrong += 1
            if rank != 1:
                misses.append(
                    {
                        "id": entry.id,
                        "alternate": alternate,
                        "got": ids[0] if ids else None,
                        "score": round(hits[0].score, 4) if hits else None,
                        "rank": rank,
                    }
                )
    misses.sort(key=lambda m: -(m["score"] or 0))
    return {
        "entries": len(index.entries),
        "queries": queries,
        "depth": depth,
        "top1": ratio(top1, queries),
        "top3": ratio(top3, queries),
        "mrr": round(reciprocal / queries, 4) if queries else None,
        "answer_threshold": faq.answer_threshold,
        "answer_margin": faq.answer_margin,
        "answered_correctly": ratio(answered_right, queries),
        "answered_wrongly": ratio(answered_wrong, queries),
        "per_topic": [
            {
                "topic": name,
                "queries": int(n),
                "top1": ratio(int(t1), int(n)),
                "top3": ratio(int(t3), int(n)),
                "mrr": round(rr / n, 4),
            }
            for name, (n, t1, t3, rr) in sorted(by_topic.items())
        ],
        "misses": misses[:FAQ_MISSES_SHOWN],
    }


def evaluate_faq(settings: Settings, *, nlu: NLU | None = None, progress: Progress = quiet) -> dict[str, Any]:
    """FAQ retrieval on the shipped data/faq, with the index the product builds (same tokenizer,
    same optional embeddings), and the cross-validated fusion of its signals (`fusion`: each
    signal alone, all fused, all but one; see bot.measure.faq_fusion)."""
    from bot.engine import build_runtime
    from bot.measure import faq_fusion

    nlu = nlu or load_nlu(settings, progress)
    started = time.perf_counter()
    runtime = build_runtime(settings, nlu)
    report = score_faq(runtime.faq, settings.faq)
    report["fusion"] = faq_fusion.ablation(faq_fusion.collect_signals(runtime.faq), list(runtime.faq.weights))
    report["calibration"] = faq_calibration(settings, runtime.faq)
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def faq_calibration(settings: Settings, index: FaqIndex) -> dict[str, Any]:
    """The calibration knots `calibrate()` chooses for today's data (held-out alternates and the
    out_of_scope examples of data/nlu), beside those in use (`bot.faq.index.CALIBRATION` and
    `MARGIN_CALIBRATION`): keys score {in_use, chosen}, margin {in_use, chosen}, questions."""
    from bot.measure import faq_fusion
    from bot.nlu.normalize import normalize
    from bot.nlu.training_data import load_training_data

    data, _problems = load_training_data(settings.data_dir, settings.root)
    others = [normalize(text) for text, intent in data.examples if intent == OUT_OF_SCOPE]
    tops, leads = faq_fusion.top_confidences(index, others)
    return {
        "questions": len(tops),
        "score": {"in_use": index.calibration, "chosen": faq_fusion.calibrate(tops)},
        "margin": {
            "in_use": index.margin_calibration,
            "chosen": faq_fusion.calibrate(leads, faq_fusion.REFERENCE_MARGIN_QUANTILES, low=-1.0),
        },
    }


def _format_calibration(calibration: dict[str, Any] | None) -> str:
    if not calibration:
        return "Calibration: not measured"
    lines = [f"Calibration onto the thresholds' scale ({calibration['questions']} questions; see bot/faq/index.py)"]
    import numpy as np

    grid = np.linspace(0, 1, 101)
    for name, constant in (("score", "CALIBRATION"), ("margin", "MARGIN_CALIBRATION")):
        part = calibration[name]
        gap = float(np.abs(np.interp(grid, *part["in_use"]) - np.interp(grid, *part["chosen"])).max())
        verdict = (
            f"up to date (the maps differ by at most {gap:.3f})"
            if gap <= CALIBRATION_TOLERANCE
            else f"off by up to {gap:.3f}; today the data would choose {tuple(tuple(k) for k in part['chosen'])!r}"
        )
        lines.append(f"  {constant}: {verdict}")
    return "\n".join(lines)


def format_faq_report(report: dict[str, Any]) -> str:
    lines = [
        f"FAQ retrieval: {report['queries']} alternates of {report['entries']} entries, each held out of the index ({report['seconds']:.2f} s)",
        f"  top-1                    {pct(report['top1'])}",
        f"  top-3                    {pct(report['top3'])}",
        f"  {'MRR@' + str(report['depth']):<24} {num(report['mrr'])}",
        f"  answered directly, right {pct(report['answered_correctly'])}  (top hit right, score ≥ {report['answer_threshold']}, lead ≥ {report['answer_margin']})",
        f"  answered directly, wrong {pct(report['answered_wrongly'])}  (top hit wrong, score ≥ {report['answer_threshold']}, lead ≥ {report['answer_margin']})",
        "",
        text_table(
            ["topic", "queries", "top-1", "top-3", "MRR"],
            [[t["topic"], t["queries"], pct(t["top1"]), pct(t["top3"]), num(t["mrr"])] for t in report["per_topic"]],
        ),
        "",
        "Signals and their fusion, cross-validated over entries (weights chosen on 4/5 of the entries, scored on the rest)",
        text_table(
            ["signals", "CV top-1", "CV top-3", "CV MRR", "weights chosen on all entries"],
            [
                [
                    ("all but " + row["without"]) if "without" in row else " + ".join(row["signals"]),
                    pct(row["cross_validated"]["top1"]),
                    pct(row["cross_validated"]["top3"]),
                    num(row["cross_validated"]["mrr"]),
                    " ".join(f"{k} {v:.1f}" for k, v in row["weights"].items()),
                ]
                for row in report.get("fusion") or []
            ],
        ),
        "",
        _format_calibration(report.get("calibration")),
        "",
        "Top-1 misses, most confident first",
    ]
    if not report["misses"]:
        lines.append("  none")
    for miss in report["misses"]:
        rank = "not in top 10" if miss["rank"] is None else f"rank {miss['rank']}"
        lines.append(f"  {miss['id']} ({rank}) got {miss['got']} at {num(miss['score'], 2)}: {miss['alternate']}")
    return "\n".join(lines)
