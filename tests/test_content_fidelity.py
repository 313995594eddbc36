"""The fidelity table of docs/content-coverage.md stays true: every quoted bot text is in data/."""

from __future__ import annotations

import re
from pathlib import Path

from engine_fixtures import CONFIG

from bot.config import load_settings

ROOT = Path(__file__).resolve().parent.parent
TABLE_HEADING = "## Fidelity table"
QUOTE = re.compile(r"`([^`]+)`")


def _rows() -> list[list[str]]:
    text = (ROOT / "docs" / "content-coverage.md").read_text(encoding="utf-8")
    section = text[text.index(TABLE_HEADING) :]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| 00") and len(cells) >= 5:
            rows.append(cells)
    return rows


def _bot_texts() -> str:
    data = ROOT / "data"
    files = [*sorted((data / "flows").glob("*.yml")), *sorted((data / "faq").glob("*.yml")), data / "responses.yml"]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def test_the_table_covers_the_three_guides():
    rows = _rows()
    guides = {row[0].split()[0] for row in rows}
    assert guides == {"000", "001", "002"}
    assert len(rows) >= 100


def test_every_quoted_bot_text_is_found_in_data():
    texts = _bot_texts()
    missing = [(row[2], quote) for row in _rows() for quote in QUOTE.findall(row[4]) if quote not in texts]
    assert not missing, f"{len(missing)} quoted bot text(s) no longer in data/: {missing[:10]}"


def test_every_row_names_known_brands():
    brands = set(load_settings(CONFIG).brands)
    for row in _rows():
        named = set(re.findall(r"[a-z]+", row[3]))
        assert named and named <= brands, row
