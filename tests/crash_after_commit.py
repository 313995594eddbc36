"""`walletbot serve` whose process is killed (SIGKILL) right after a message with a message_id
starting with "crash-" is committed, before its reply is sent: what `kill -9` at the worst moment
does. Used by tests/test_serve.py; run as `python tests/crash_after_commit.py --port N`.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.engine import Assistant  # noqa: E402

_handle = Assistant.handle


def _handle_then_die(self: Assistant, conversation_id: str, **kwargs: Any) -> dict[str, Any]:
    reply = _handle(self, conversation_id, **kwargs)  # committed when it returns
    if str(kwargs.get("message_id") or "").startswith("crash-"):
        os.kill(os.getpid(), signal.SIGKILL)
    return reply


Assistant.handle = _handle_then_die  # type: ignore[method-assign]

if __name__ == "__main__":
    from bot.cli import main

    main(["serve", *sys.argv[1:]])
