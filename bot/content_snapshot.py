"""The last content that loaded, kept in ``models/content-snapshot.json`` so that a restart survives
a broken edit of ``data/``.

Why: the running server already keeps its last good content in memory when a reload fails, but
a restart with a broken file used to be a full outage. Each time content loads (start-up, a
reload), every file of ``data/`` is written to one JSON file next to the model (atomically: a
temporary file, then a rename, so a crash never leaves half a snapshot). At start-up, when
``data/`` has errors, the snapshot is unpacked to a temporary folder and served with a loud
warning, unless ``content.strict`` is set (``walletbot serve --strict-content``), which keeps
the error for CI. The snapshot also names the FAQ entries of each file, so an FAQ file or entry
that disappeared since is a warning naming it (:func:`removed_faq_problems`).

The snapshot records the ``data/`` folder it came from and is used only for that folder: test
runs and tools that point several data folders at one models folder do not see each other's.

    runtime, fallback = start_runtime(settings, auto_train=False)
    if fallback is not None:
        ...  # serving fallback.version, data/ has fallback.problems
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Paths, Settings
from bot.errors import ContentError, ModelNotTrained
from bot.yamlio import Problem

if TYPE_CHECKING:
    from bot.content import Content
    from bot.engine import Runtime
    from bot.faq.knowledge import FaqEntry

SNAPSHOT_FILE = "content-snapshot.json"
FORMAT = 1
log = logging.getLogger("walletbot.content")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What ``models/content-snapshot.json`` holds."""

    version: str  # the content version (bot.content.content_version) of these files
    saved_at: str
    data_dir: str  # the folder the files were read from
    files: dict[str, str]  # path relative to data/ (with /) -> text
    faq: dict[str, list[str]]  # FAQ file relative to data/ -> its entry ids, in file order


@dataclass(frozen=True, slots=True)
class Fallback:
    """Start-up served the snapshot because data/ is broken."""

    version: str
    saved_at: str
    problems: list[Problem] = field(default_factory=list)  # the errors of data/


def snapshot_path(settings: Settings) -> Path:
    return settings.models_dir / SNAPSHOT_FILE


def read_snapshot(settings: Settings) -> Snapshot | None:
    """The snapshot of this data/ folder, or None (none saved, another folder's, unreadable)."""
    path = snapshot_path(settings)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the content snapshot %s: %s", path, exc)
        return None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("data_dir") != str(settings.data_dir):
        return None
    try:
        return Snapshot(raw["version"], raw["saved_at"], raw["data_dir"], dict(raw["files"]), dict(raw["faq"]))
    except (KeyError, TypeError) as exc:
        log.warning("ignoring the content snapshot %s: missing %s", path, exc)
        return None


def save_snapshot(settings: Settings, content: Content) -> bool:
    """Keep the files of data/ as the last content that loaded; False when already kept.

    Call only with content that loaded without errors. Never raises for a write failure (a full
    disk must not stop a reload): it is logged and the previous snapshot stays.
    """
    current = read_snapshot(settings)
    if current is not None and current.version == content.version:
        return False
    data_dir = settings.data_dir
    files: dict[str, str] = {}
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        try:
            files[path.relative_to(data_dir).as_posix()] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue  # not content: binary or unreadable files are not needed to serve
    raw: dict[str, Any] = {
        "format": FORMAT,
        "version": content.version,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        "faq": _faq_by_file(content.faq, settings),
        "files": files,
    }
    target = snapshot_path(settings)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".content-snapshot-", dir=target.parent)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(raw, out, ensure_ascii=False)
        os.replace(temporary, target)
    except OSError as exc:
        log.warning("could not keep content version %s as the snapshot in %s: %s", content.version, target, exc)
        return False
    log.info("content version %s kept in %s", content.version, target)
    return True


def _faq_by_file(entries: Iterable[FaqEntry], settings: Settings) -> dict[str, list[str]]:
    """FAQ entry ids per file, files named relative to data/ ("faq/security.yml")."""
    from bot.faq.knowledge import faq_files

    by_file: dict[str, list[str]] = {}
    shown = {
        _display(path, settings): path.relative_to(settings.data_dir).as_posix()
        for path in faq_files(settings.data_dir)
    }
    for path in faq_files(settings.data_dir):
        by_file[path.relative_to(settings.data_dir).as_posix()] = []
    for entry in entries:
        key = shown.get(entry.file)
        if key is not None:
            by_file[key].append(entry.id)
    return by_file


def _display(path: Path, settings: Settings) -> str:
    try:
        return str(path.relative_to(settings.root))
    except ValueError:
        return str(path)


def removed_faq_problems(settings: Settings, entries: list[FaqEntry]) -> list[Problem]:
    """A warning for each FAQ file, and each FAQ entry of a file still there, that the last
    content that loaded had and data/ no longer has. An entry moved to another file is not
    removed. Every entry read counts, valid or not: a broken entry is an error already."""
    snapshot = read_snapshot(settings)
    if snapshot is None:
        return []
    from bot.faq.knowledge import faq_files

    present_files = {path.relative_to(settings.data_dir).as_posix() for path in faq_files(settings.data_dir)}
    present_ids = {entry.id for entry in entries}
    since = f"since content version {snapshot.version} (loaded {snapshot.saved_at})"
    problems: list[Problem] = []
    for name, ids in snapshot.faq.items():
        shown = _display(settings.data_dir / name, settings)
        gone = [entry_id for entry_id in ids if entry_id not in present_ids]
        if name not in present_files:
            listed = ", ".join(gone) if gone else "none of them moved elsewhere"
            message = (
                f"FAQ file removed {since}; its entries no longer answered: {listed}. "
                "Restore the file from git if this was not intended."
            )
            if not gone:
                message = f"FAQ file removed {since}; its {len(ids)} entries all live in other files now."
            problems.append(Problem(shown, 1, message, "warning", code="faq_removed"))
            continue
        for entry_id in gone:
            problems.append(
                Problem(
                    shown,
                    1,
                    f"FAQ entry '{entry_id}' removed {since}; questions it answered now get another entry "
                    "or none. Restore it from git if this was not intended.",
                    "warning",
                    code="faq_removed",
                )
            )
    return problems


def unpack(snapshot: Snapshot) -> Path:
    """The snapshot's files in a new temporary folder (removed when the process exits)."""
    folder = Path(tempfile.mkdtemp(prefix="walletbot-content-snapshot-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name, text in snapshot.files.items():
        target = (folder / name).resolve()
        if folder.resolve() not in target.parents:
            continue  # a hand-edited snapshot must not write outside its folder
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


def on_snapshot(settings: Settings, folder: Path) -> Settings:
    """The same settings reading content from ``folder``; the models stay where they are."""
    paths = Paths(data=folder, models=settings.models_dir)
    return settings.model_copy(update={"paths": paths})


def start_runtime(
    settings: Settings, *, auto_train: bool, progress: Callable[[str], None] = lambda _m: None
) -> tuple[Runtime, Fallback | None]:
    """The runtime of data/, or, when data/ has errors, that of the last content that loaded.

    Without errors the content is kept as the new snapshot. With errors and
    ``settings.content.strict``, or without a snapshot of this data/ folder, the error is raised
    as before; otherwise the snapshot is served and one loud ERROR line per problem is logged.

    Raises:
        ContentError: data/ is broken and there is no snapshot to use, or strict is set.
        ModelNotTrained: no model, or a stale one while auto_train is False.
    """
    from bot.content import errors_of, load_content
    from bot.engine import build_runtime
    from bot.training import ensure_model

    try:
        ensure_model(settings, auto_train=auto_train, progress=progress)
        runtime = build_runtime(settings)
    except (ContentError, ModelNotTrained) as exc:
        found = exc.problems if isinstance(exc, ContentError) else load_content(settings, lint=False).problems
        problems = errors_of(found)
        if not problems:
            raise  # a model that is only missing or stale: nothing wrong with data/
        if settings.content.strict:
            raise ContentError(problems) from exc
        snapshot = read_snapshot(settings)
        if snapshot is None:
            raise ContentError(problems) from exc
        fallback = Fallback(snapshot.version, snapshot.saved_at, problems)
        _warn(settings, fallback)
        on_disk = on_snapshot(settings, unpack(snapshot))
        ensure_model(on_disk, auto_train=auto_train, progress=progress)
        return build_runtime(on_disk), fallback
    kept(settings, runtime.content)
    return runtime, None


def kept(settings: Settings, content: Content) -> None:
    """After content loaded without errors: warn about FAQ files and entries that disappeared
    since the snapshot, then keep this content as the new snapshot (so each is named once)."""
    for problem in content.problems:
        if problem.code == "faq_removed":
            log.warning("%s", problem)
    save_snapshot(settings, content)


def prepare_to_serve(settings: Settings, progress: Callable[[str], None] = lambda _m: None) -> Fallback | None:
    """What `walletbot serve` checks before starting workers: the model they will load is
    trained, from data/ or, when data/ is broken, from the snapshot they will fall back to.

    Raises:
        ContentError: data/ is broken and there is no snapshot, or ``content.strict`` is set.
    """
    from bot.content import errors_of, load_content
    from bot.training import ensure_model

    problems = errors_of(load_content(settings, lint=False).problems)
    if not problems:
        ensure_model(settings, auto_train=True, progress=progress)
        return None
    snapshot = None if settings.content.strict else read_snapshot(settings)
    if snapshot is None:
        raise ContentError(problems)
    ensure_model(on_snapshot(settings, unpack(snapshot)), auto_train=True, progress=progress)
    return Fallback(snapshot.version, snapshot.saved_at, problems)


def _warn(settings: Settings, fallback: Fallback) -> None:
    log.error(
        "CONTENT IN %s IS BROKEN (%d error(s)): serving the last content that loaded, version %s of %s. "
        "Fix the files (walletbot validate); the server picks them up without a restart. "
        "Set content.strict (walletbot serve --strict-content) to refuse to start instead.",
        settings.data_dir,
        len(fallback.problems),
        fallback.version,
        fallback.saved_at,
    )
    for problem in fallback.problems:
        log.error("content error: %s", problem)
