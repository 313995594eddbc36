"""The confusion matrix as a PNG heatmap (`walletbot eval --plot`), with matplotlib, which is an
optional extra (`walletbot[plot]`), not a walletbot dependency.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.measure import MeasureError


def require_matplotlib() -> None:
    """Raises MeasureError when matplotlib is not installed (it is not a walletbot dependency)."""
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        raise MeasureError(
            "--plot needs matplotlib, which is not installed (it is not a walletbot dependency): "
            "run `pip install 'walletbot[plot]'` (or `pip install matplotlib`) in this environment, or leave out --plot."
        )


def plot_confusion(confusion: dict[str, Any], path: Path, title: str = "Intent confusion") -> None:
    """Write the confusion matrix as a PNG heatmap (rows: expected, columns: predicted; colour:
    share of the row, number: count).

    Raises:
        MeasureError: matplotlib is not installed (it is not a walletbot dependency).
    """
    require_matplotlib()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    labels = confusion["labels"]
    counts = np.array(confusion["matrix"], dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    size = max(6.0, 0.45 * len(labels) + 2.5)
    figure, axes = plt.subplots(figsize=(size, size * 0.9))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("expected")
    axes.set_title(title)
    for r in range(len(labels)):
        for c in range(len(labels)):
            if counts[r, c]:
                axes.text(
                    c,
                    r,
                    str(int(counts[r, c])),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shares[r, c] > 0.5 else "black",
                )
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04, label="share of the row")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
