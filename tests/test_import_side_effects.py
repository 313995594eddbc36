"""Importing a module does no work of its own: no file read, no logging changed, no command
module of another part of the product imported. Each check runs in a fresh interpreter, since
this one has imported everything already."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fresh(code: str) -> dict[str, object]:
    """Run `code` in a new interpreter from the project folder; it prints one JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_the_yaml_reader_reads_no_file() -> None:
    found = _fresh(
        "import builtins, io, json, pathlib\n"
        "opened = []\n"
        "real_open = io.open\n"
        "def spy(file, *a, **k):\n"
        "    opened.append(str(file)); return real_open(file, *a, **k)\n"
        "io.open = builtins.open = spy\n"
        "import bot.yamlio\n"
        "before = [f for f in opened if f.endswith('problem_texts.yml')]\n"
        "bot.yamlio.problem_texts()\n"
        "after = [f for f in opened if f.endswith('problem_texts.yml')]\n"
        "print(json.dumps({'before': len(before), 'after': len(after)}))\n"
    )
    assert found == {"before": 0, "after": 1}


def test_importing_the_features_changes_no_logging_until_a_tokenizer_is_made() -> None:
    found = _fresh(
        "import json, logging\n"
        "import bot.nlu.features as f\n"
        "before = logging.getLogger('jieba').level\n"
        "f.Tokenizer({}, [])\n"
        "print(json.dumps({'before': before, 'after': logging.getLogger('jieba').level}))\n"
    )
    assert found["before"] != logging.WARNING
    assert found["after"] == logging.WARNING


def test_importing_the_cli_imports_no_other_parts_commands() -> None:
    found = _fresh(
        "import json, sys\n"
        "import bot.cli\n"
        "parts = ('bot.console', 'bot.insights', 'bot.measure')\n"
        "before = sorted(m for m in sys.modules if m.startswith(parts))\n"
        "names = bot.cli.main.list_commands(None)\n"
        "command = bot.cli.main.get_command(None, 'eval')\n"
        "print(json.dumps({'before': before, 'names': names, 'eval': command.name,\n"
        "                  'measure': 'bot.measure.commands' in sys.modules}))\n"
    )
    assert found["before"] == []
    assert {"users", "eval", "bench", "test", "chat", "serve", "report"} <= set(found["names"])  # type: ignore[arg-type]
    assert (found["eval"], found["measure"]) == ("eval", True)
