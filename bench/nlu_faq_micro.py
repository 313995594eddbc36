"""CPU of the intent classifier's `rank` and the FAQ search, in process, on the benchmark messages.

Not used by the product. From the checkout, after `walletbot train`::

    python bench/nlu_faq_micro.py [--messages 3000] [--repeat 5] [--profile out.prof]

The messages are those of `walletbot bench` (`bench_messages`, seed 7), normalised beforehand.
The texts are taken in chunks of 100; each chunk starts from empty per-text caches (as messages
the process has not seen) and is timed, with `time.process_time`, one pass per stage in the order
a chat message meets them:

- `rank (first)`: `IntentClassifier.rank` on a text not seen before (parse);
- `rank (again)`: the same text again (the FAQ intent prior, the dialogue's clause readings);
- `search (first)`: `FaqIndex.search` after the rank (the classifier's features are known);
- `search (again)`: the same question searched again (a message may search several times);
- `message`: all of it for one text after the chunk's caches are emptied again: rank, rank,
  search, search.

The figure reported per stage is the minimum over the repetitions (the least disturbed by the
other processes on the machine), in milliseconds of CPU per call.
"""

from __future__ import annotations

import argparse
import cProfile
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script: this checkout's bot

from bot.config import load_settings  # noqa: E402
from bot.content import load_content  # noqa: E402
from bot.faq.index import FaqIndex, load_synonym_subset  # noqa: E402
from bot.measure.bench.messages import bench_messages  # noqa: E402
from bot.nlu.normalize import normalize  # noqa: E402
from bot.nlu.pipeline import NLU  # noqa: E402

CHUNK = 100


def forget(nlu: NLU, faq: FaqIndex) -> None:
    """Empty every per-text cache of these objects (process-wide ones such as pypinyin's stay)."""
    for owner in (nlu.classifier.tokenizer, nlu.classifier, nlu.replies, faq):
        clear = getattr(owner, "forget", None)
        if clear is not None:
            clear()
        for name in ("_cache", "_word_cache", "_search_cache"):
            cache = getattr(owner, name, None)
            if isinstance(cache, dict):
                cache.clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of one `message` pass to this file")
    args = parser.parse_args()

    settings = load_settings()
    content = load_content(settings, lint=False)
    nlu = NLU.load(settings.models_dir)
    faq = FaqIndex(
        content.faq,
        nlu.classifier.tokenizer,
        intent_ranker=nlu.classifier.rank,
        synonyms=load_synonym_subset(settings.models_dir),
    )
    texts = [t for t in (normalize(m) for m in bench_messages(content, args.messages)) if t]
    rank, search = nlu.classifier.rank, faq.search

    def message(text: str) -> None:
        rank(text)
        rank(text)
        search(text)
        search(text)

    stages: list[tuple[str, Callable[[str], object]]] = [
        ("rank (first)", rank),
        ("rank (again)", rank),
        ("search (first)", search),
        ("search (again)", search),
    ]
    for text in texts:  # warm-up: pypinyin, jieba and numpy reach their steady state
        message(text)
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        spent = dict.fromkeys([name for name, _call in stages] + ["message"], 0.0)
        # In chunks of CHUNK texts, from empty caches each: the stages of one text follow each
        # other closely in a real message, well within what the caches keep.
        for start in range(0, len(texts), CHUNK):
            chunk = texts[start : start + CHUNK]
            forget(nlu, faq)
            for name, call in stages:
                begin = time.process_time()
                for text in chunk:
                    call(text)
                spent[name] += time.process_time() - begin
            forget(nlu, faq)
            begin = time.process_time()
            for text in chunk:
                message(text)
            spent["message"] += time.process_time() - begin
        for name, seconds in spent.items():
            best[name] = min(best.get(name, seconds), seconds * 1000 / len(texts))
    print(f"{len(texts)} messages, best of {args.repeat}, ms of CPU per call")
    for name, ms in best.items():
        print(f"  {name:<15} {ms:.4f}")
    if args.profile:
        forget(nlu, faq)
        profile = cProfile.Profile()
        profile.enable()
        for text in texts:
            message(text)
        profile.disable()
        profile.dump_stats(args.profile)


if __name__ == "__main__":
    main()
