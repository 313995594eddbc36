"""`walletbot train`: from data/nlu to a saved model in models/, refusing invalid data."""

from __future__ import annotations

from typing import Callable

from bot.config import Settings
from bot.content import errors_of
from bot.errors import ContentError, ModelNotTrained
from bot.nlu.classifier import IntentClassifier, TrainReport
from bot.nlu.pipeline import MODEL_SUBDIR, ModelState, model_state
from bot.nlu.training_data import load_training_data


def train(settings: Settings, progress: Callable[[str], None] = lambda _msg: None) -> TrainReport:
    """Train the intent classifier and save it atomically.

    Raises:
        ContentError: the NLU files have errors (each with file and line).
    """
    progress("reading data/nlu")
    data, problems = load_training_data(settings.data_dir, settings.root)
    if errors_of(problems):
        raise ContentError(problems)
    classifier, report = IntentClassifier.train(data, progress=progress)
    progress("saving")
    classifier.save(settings.models_dir / MODEL_SUBDIR)
    return report


def ensure_model(settings: Settings, *, auto_train: bool, progress: Callable[[str], None] = lambda _m: None) -> None:
    """Train when the model is missing or stale and auto_train is set; else say what to run."""
    state = model_state(settings.data_dir, settings.models_dir)
    if state is ModelState.READY:
        return
    if not auto_train:
        reason = "No trained model found" if state is ModelState.UNTRAINED else "The model is stale (data/nlu changed since training)"
        raise ModelNotTrained(f"{reason} in '{settings.models_dir}': run `walletbot train`.")
    train(settings, progress)
