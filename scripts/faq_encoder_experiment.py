"""Does a Chinese sentence encoder trained from the project's own data help FAQ retrieval?

The measurement behind "A trained Chinese encoder did not help" in docs/accuracy.md: a
StaticEmbedding over characters, character pairs and jieba words is trained from scratch with
sentence-transformers (one paraphrase group per intent of data/nlu and per FAQ entry), in 5 folds
over the FAQ alternates: each fold's encoder never sees the alternates it is scored on. Its score
is then fused with the product's signals, weights cross-validated over entries
(bot.measure.faq_fusion), and compared with the fusion without it.

    .venv/bin/python scripts/faq_encoder_experiment.py --dim 128 --epochs 6 --seed 7

Needs a trained model (walletbot train) for the intent signal. Not part of the product.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer as HFTokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    from bot.config import load_settings
    from bot.engine import build_runtime
    from bot.faq.index import _BLANKS, SIGNALS
    from bot.measure.faq_fusion import ablation, collect_signals
    from bot.nlu.normalize import normalize
    from bot.nlu.pipeline import NLU
    from bot.nlu.training_data import load_training_data
    from bot.text import fill

    torch.set_num_threads(1)
    settings = load_settings(ROOT / "config.yml")
    nlu = NLU.load(settings.models_dir)
    index = build_runtime(settings, nlu).faq
    tokenizer = index.tokenizer
    data, _ = load_training_data(settings.data_dir, settings.root)

    def units(text: str) -> str:
        chars = tokenizer.chars(text)
        return " ".join(chars + [a + b for a, b in zip(chars, chars[1:])] + ["w:" + w for w in tokenizer.words(text)])

    def train(groups: list[list[str]]) -> SentenceTransformer:
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        vocabulary = {"[UNK]": 0}
        for group in groups:
            for text in group:
                for unit in text.split():
                    vocabulary.setdefault(unit, len(vocabulary))
        hf = HFTokenizer(WordLevel(vocabulary, unk_token="[UNK]"))
        hf.pre_tokenizer = WhitespaceSplit()
        embedding = StaticEmbedding(hf, embedding_dim=args.dim)
        torch.nn.init.normal_(embedding.embedding.weight, std=0.1)
        model = SentenceTransformer(modules=[embedding], device="cpu")
        loss = MultipleNegativesRankingLoss(model)
        optimiser = torch.optim.Adam(model.parameters(), lr=0.05)
        pairs = [
            (a, g[(i + 1 + random.randrange(len(g) - 1)) % len(g)], n)
            for n, g in enumerate(groups)
            if len(g) > 1
            for i, a in enumerate(g)
        ]

        def step(batch: list[tuple[str, str, int]]) -> None:
            value = loss([model.preprocess([p[0] for p in batch]), model.preprocess([p[1] for p in batch])], None)
            optimiser.zero_grad()
            value.backward()
            optimiser.step()

        for _ in range(args.epochs):
            random.shuffle(pairs)
            batch, used = [], set()
            for pair in pairs:  # one pair per group in a batch: no false negatives
                if pair[2] in used:
                    continue
                batch.append(pair)
                used.add(pair[2])
                if len(batch) == 32:
                    step(batch)
                    batch, used = [], set()
            if batch:
                step(batch)
        return model

    intent_groups: dict[str, list[str]] = {}
    for text, intent in data.examples:
        if intent != "out_of_scope":
            intent_groups.setdefault(intent, []).append(units(normalize(text)))
    texts, owner = index._texts, index._owner_arr
    signals = collect_signals(index)
    queries = [
        (normalize(fill(a, _BLANKS)), n)
        for n, e in enumerate(index.entries)
        for a in e.alternates
        if normalize(fill(a, _BLANKS))
    ]
    fold = np.random.RandomState(args.seed).permutation(len(queries)) % 5
    semantic = np.zeros((len(queries), len(index.entries)))
    for f in range(5):
        held = {q for (q, _), k in zip(queries, fold) if k == f}
        kept = [i for i, t in enumerate(texts) if t not in held]
        groups = list(intent_groups.values()) + [
            [units(texts[i]) for i in kept if owner[i] == n] for n in range(len(index.entries))
        ]
        model = train(groups)
        vectors = model.encode(
            [units(t) for t in texts], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        queries_of_fold = [j for j in range(len(queries)) if fold[j] == f]
        encoded = model.encode(
            [units(queries[j][0]) for j in queries_of_fold],
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        centroids = np.zeros((len(index.entries), vectors.shape[1]))
        np.add.at(centroids, owner[kept], vectors[kept])
        centroids /= np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-9
        for j, q in zip(queries_of_fold, encoded):
            # Half the best single wording, half all wordings together, as the TF-IDF view does.
            best = np.zeros(len(index.entries))
            np.maximum.at(best, owner[kept], np.clip(vectors[kept] @ q, 0, 1))
            semantic[j] = 0.5 * best + 0.5 * np.clip(centroids @ q, 0, 1)
        print(f"fold {f + 1}/5 trained", flush=True)
    signals.scores["semantic"] = semantic
    names = [n for n in SIGNALS if n != "tfidf"] + ["semantic"]
    for row in ablation(signals, names):
        label = ("all but " + row["without"]) if "without" in row else " + ".join(row["signals"])
        print(f"{label:<50} CV {row['cross_validated']}  weights {row['weights']}")


if __name__ == "__main__":
    main()
