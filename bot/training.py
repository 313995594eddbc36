"""`walletbot train`: from data/nlu to a saved model in models/, refusing invalid data."""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.config import Settings
from bot.content import errors_of
from bot.errors import ContentError, ModelNotTrained
from bot.nlu.classifier import IntentClassifier, TrainReport
from bot.nlu.pipeline import MODEL_SUBDIR, ModelState, model_state
from bot.nlu.replies import REPLIES_SUBDIR, load_reply_data
from bot.nlu.training_data import load_training_data

TRAINING_LOCK = ".training.lock"
# Regularisation of the reply-kind model: replies are short and their kinds hinge on a word or
# two (没 / 还是), so it is fitted closer to its examples than the intent model.
REPLY_C = 60.0


def train(settings: Settings, progress: Callable[[str], None] = lambda _msg: None) -> TrainReport:
    """Train the intent classifier and the reply-kind classifier and save them atomically.

    Raises:
        ContentError: the NLU files have errors (each with file and line).
    """
    with _one_trainer(settings.models_dir):
        return _train(settings, progress)


def _train(settings: Settings, progress: Callable[[str], None]) -> TrainReport:
    progress("reading data/nlu and data/replies")
    data, problems = load_training_data(settings.data_dir, settings.root)
    replies, reply_problems = load_reply_data(settings.data_dir, settings.root, data)
    if errors_of(problems + reply_problems):
        raise ContentError(problems + reply_problems)
    classifier, report = IntentClassifier.train(data, progress=progress)
    progress("reply kinds")
    reply_classifier, _ = IntentClassifier.train(replies, c=REPLY_C, progress=progress)
    progress("saving")
    reply_classifier.save(settings.models_dir / REPLIES_SUBDIR)
    classifier.save(settings.models_dir / MODEL_SUBDIR)
    progress("FAQ synonym groups")
    save_faq_synonyms(settings, classifier)
    return report


def save_faq_synonyms(settings: Settings, classifier: IntentClassifier) -> None:
    """Keep in models/ only the 词林 groups the FAQ index can use, so serving never reads the
    whole thesaurus (bot/nlu/cilin.py). FAQ files with errors are left to `walletbot validate`."""
    from bot.faq.index import save_synonym_subset
    from bot.faq.knowledge import load_faq

    entries, _ = load_faq(settings.data_dir, settings.root)
    save_synonym_subset(entries, classifier.tokenizer, settings.models_dir)


@contextmanager
def _one_trainer(models_dir: Path) -> Iterator[None]:
    """One training at a time per models/ folder, across processes: every `serve --workers`
    process watches data/ and would otherwise retrain into the same files at once."""
    models_dir.mkdir(parents=True, exist_ok=True)
    with open(models_dir / TRAINING_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_model(settings: Settings, *, auto_train: bool, progress: Callable[[str], None] = lambda _m: None) -> None:
    """Train when the model is missing or stale and auto_train is set; else say what to run."""
    state = model_state(settings.data_dir, settings.models_dir)
    if state is ModelState.READY:
        return
    if not auto_train:
        reason = (
            "No trained model found"
            if state is ModelState.UNTRAINED
            else "The model is stale (data/nlu or data/replies changed since training)"
        )
        raise ModelNotTrained(f"{reason} in '{settings.models_dir}': run `walletbot train`.")
    with _one_trainer(settings.models_dir):
        # Another process may have trained while this one waited for the lock.
        if model_state(settings.data_dir, settings.models_dir) is not ModelState.READY:
            _train(settings, progress)
