"""Live content reload: editors change data/, the running bot picks it up within seconds.

A background thread polls the modification times of data/ (cheap, portable, no extra
dependency) and, on a change, builds a complete new Runtime before swapping it in with one
assignment: conversations in flight keep the version they started the turn with, and an invalid
change never replaces the last good content. FAQ, flow and response edits reload in
milliseconds; NLU edits retrain the classifier first (a few seconds, still in the background).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.content import errors_of
from bot.content_snapshot import kept
from bot.engine import Assistant, ReloadStatus, build_runtime
from bot.errors import ContentError
from bot.nlu.pipeline import NLU
from bot.nlu.replies import reply_fingerprint
from bot.nlu.training_data import fingerprint_files, nlu_files
from bot.training import ensure_model

log = logging.getLogger("walletbot.reload")
POLL_SECONDS = 0.5
# The watcher, the console's button and /api/admin/reload may ask at once: one reload at a time
# in this process (training itself is also locked across processes, see bot.training).
_one_at_a_time = threading.Lock()


def _snapshot(data_dir: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in data_dir.rglob("*") if p.is_file() and p.suffix in {".yml", ".yaml"}}


def reload_assistant(assistant: Assistant) -> ReloadStatus:
    """Validate and load data/ (retraining when data/nlu changed); swap only if all is valid."""
    with _one_at_a_time:
        try:
            status = _reload(assistant)
        except Exception:
            if assistant.metrics is not None:
                assistant.metrics.content_reloaded(ok=False)
            raise
    if assistant.metrics is not None:
        assistant.metrics.content_reloaded(ok=not status.errors)
    return status


def _reload(assistant: Assistant) -> ReloadStatus:
    settings = assistant.settings
    now = datetime.now(UTC).isoformat(timespec="seconds")
    status = assistant.reload_status
    try:
        nlu = assistant.runtime.nlu
        if nlu.classifier.meta.get("fingerprint") != fingerprint_files(
            nlu_files(settings.data_dir)
        ) or nlu.replies.meta.get("fingerprint") != reply_fingerprint(settings.data_dir):
            log.info(
                "data/nlu or data/replies changed: retraining in the background (or loading what another worker trained)"
            )
            ensure_model(settings, auto_train=True)
            nlu = NLU.load(settings.models_dir)
        runtime = build_runtime(settings, nlu)
    except ContentError as exc:
        problems = [str(p) for p in errors_of(exc.problems)]
        for problem in problems:
            log.error("content rejected, still serving version %s: %s", status.version, problem)
        assistant.reload_status = ReloadStatus(status.version, status.loaded_at, problems, now)
        return assistant.reload_status
    assistant.runtime = runtime
    assistant.reload_status = ReloadStatus(runtime.content.version, now)
    kept(settings, runtime.content)
    log.info("content version %s is live", runtime.content.version)
    return assistant.reload_status


class ContentWatcher:
    """Polls data/ and reloads on change; `stop()` ends the thread."""

    def __init__(self, assistant: Assistant, interval: float = POLL_SECONDS) -> None:
        self.assistant = assistant
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="walletbot-content-watcher", daemon=True)
        self._seen = _snapshot(assistant.settings.data_dir)

    def start(self) -> ContentWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                current = _snapshot(self.assistant.settings.data_dir)
            except OSError:  # a file vanished between listing and stat: look again next tick
                continue
            if current != self._seen:
                self._seen = current
                try:
                    reload_assistant(self.assistant)
                except Exception:  # noqa: BLE001 - the watcher must survive any bad edit
                    log.exception("reload failed; still serving the previous content")
