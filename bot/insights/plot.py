"""A flow's funnel as a PNG: one bar per step (conversations that reached it), split into those
solved there, escalated there, left there, and the rest (went on to another step).

matplotlib with the Agg backend (no display needed), imported only when a picture is asked for;
Chinese needs a CJK font: the first installed one of ``CJK_FONTS`` (Debian: fonts-noto-cjk).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.errors import WalletbotError
from bot.insights.labels import InsightLabels

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Source Han Sans SC",
    "SimHei",
)
# solved / escalated / left / went on: the console's chart colours too (static/insights.js).
COLOURS = ("#16a34a", "#dc2626", "#f59e0b", "#93c5fd")


def cjk_font() -> str | None:
    """The family name of an installed font that has Chinese glyphs, or None."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def plot_funnel(funnel: dict[str, Any], labels: InsightLabels, path: Path) -> Path:
    """Draw ``funnel`` (a ``build_report`` funnel: flow, title, steps) into ``path`` (PNG).

    Raises:
        WalletbotError: no CJK font is installed (the labels would be empty boxes).
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    font = cjk_font()
    if font is None:
        raise WalletbotError(
            f"No Chinese font found for the picture (looked for {', '.join(CJK_FONTS)}): "
            "install one, e.g. `apt-get install fonts-noto-cjk` (scripts/setup.sh dev does)."
        )
    t = labels.text
    steps = funnel["steps"]
    names = [s["step"] for s in steps]
    parts = [
        (t("solved"), [s["solved"] for s in steps]),
        (t("escalated_here"), [s["escalated"] for s in steps]),
        (t("left"), [s["left"] for s in steps]),
        (t("went_on"), [max(s["reached"] - s["solved"] - s["escalated"] - s["left"], 0) for s in steps]),
    ]
    with plt.rc_context({"font.family": font, "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(steps) + 1.6), dpi=120)
        left = [0] * len(steps)
        for (label, values), colour in zip(parts, COLOURS, strict=True):
            ax.barh(names, values, left=left, color=colour, label=label)
            left = [a + b for a, b in zip(left, values, strict=True)]
        for y, step in enumerate(steps):
            ax.text(step["reached"], y, f" {step['reached']}", va="center", fontsize=9)
        ax.invert_yaxis()  # the first step on top
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # conversations: whole numbers
        ax.set_xlabel(t("reached"))
        ax.set_title(t("plot_title", flow=funnel["title"]))
        ax.legend(loc="lower right", fontsize=9)
        ax.spines[["top", "right"]].set_visible(False)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
        plt.close(fig)
    return path
