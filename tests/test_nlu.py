"""Normalisation, features, the classifier and its saved form, through the real trained model."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from engine_fixtures import PROJECT

from bot.errors import ModelNotTrained
from bot.nlu.classifier import IntentClassifier, read_meta
from bot.nlu.features import SynonymRewriter
from bot.nlu.normalize import normalize, normalize_aligned
from bot.nlu.pipeline import NLU, ModelState, model_state


@pytest.fixture(scope="module")
def nlu(trained_models_dir: Path) -> NLU:
    return NLU.load(trained_models_dir)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("忘記密碼了怎麼辦", "忘记密码了怎么办"),
        ("充值１００元！！！", "充值100元!"),
        ("  Hello   World \u200b ", "hello world"),
        ("提現失敗。。。", "提现失败。"),
    ],
)
def test_normalize(raw: str, expected: str):
    assert normalize(raw) == expected
    assert normalize_aligned(raw).text == expected


def test_aligned_spans_map_back_to_the_original():
    raw = "  我充了１００元"
    norm = normalize_aligned(raw)
    start = norm.text.index("100")
    assert norm.span_to_original(start, start + 3) == (raw.index("１"), raw.index("元"))


def test_synonyms_rewrite_longest_first():
    rewrite = SynonymRewriter({"充钱": "充值", "冲值": "充值", "取现": "提现"})
    assert rewrite("冲值和取现") == "充值和提现"


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("我充值失败了", {"topup_problem", "transaction_failed"}),
        ("忘記密碼了怎麼辦", {"forgot_password"}),
        ("冲值一直不到账", {"topup_problem"}),  # homophone typo
        ("体现怎么还没到银行卡", {"withdrawal_problem"}),  # homophone typo
        ("我要退款", {"refund"}),
        ("账号被盗了，有几笔不是我付的", {"account_stolen"}),
        ("账户被冻结了怎么解封", {"account_frozen"}),
        ("转人工", {"human_handoff"}),
        ("客服电话多少", {"contact_support"}),
        ("今天天气怎么样", {"out_of_scope"}),
        ("你好", {"greet"}),
        ("谢谢你", {"thanks"}),
    ],
)
def test_intents(nlu: NLU, text: str, intents: set[str]):
    result = nlu.parse(text)
    assert result["intent"] in intents, result["ranking"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # Another organisation's customer service, named from a gazetteer of data/nlu: not ours.
        ("顺丰快递的客服电话是多少", "out_of_scope"),
        ("招行的人工客服怎么转", "out_of_scope"),
        ("QQ钱包的客服电话多少", "out_of_scope"),  # 钱包 alone does not name this wallet
        # The wallet's own service, even when the message also names another app.
        ("你们在微信上有官方号吗", "contact_support"),
        ("你们的客服电话是多少", "contact_support"),
        # Only the listed intents are rejected: paying or topping up from elsewhere stays in scope.
        ("从招商银行卡往钱包充值充不进去", "topup_problem"),
    ],
)
def test_gazetteers_reject_other_organisations_services(nlu: NLU, text: str, intent: str):
    result = nlu.parse(text)
    assert result["intent"] == intent, result["ranking"]


def test_gazetteer_tokens_match_names_and_whole_numbers():
    from bot.nlu.features import Tokenizer

    tokenizer = Tokenizer({}, [], {"orgs": ["顺丰", "12345"]})
    assert tokenizer.gazetteer_tokens("顺丰到哪了") == ["g:orgs"]
    assert tokenizer.gazetteer_tokens("打12345投诉") == ["g:orgs"]
    assert tokenizer.gazetteer_tokens("订单2023081512345没付上") == []  # inside an order number
    assert "g:orgs" in tokenizer.tokens("顺丰到哪了")
    assert tokenizer.built_from({}, [], {"orgs": ["12345", "顺丰"]})
    assert not tokenizer.built_from({}, [])


def test_a_remembered_ranking_is_the_computed_one_and_the_callers_own(nlu: NLU):
    classifier = nlu.classifier
    texts = [normalize(t) for t in ["忘记密码了怎么办", "提现一直没到账", "顺丰客服电话多少", "你好"]]
    first = [classifier.rank(t) for t in texts]
    for text, ranking in zip(texts, first, strict=True):
        assert classifier.rank(text) == ranking == list(classifier._rank(text))
        ranking.clear()  # a caller changing its list changes nothing remembered
        assert classifier.rank(text) == list(classifier._rank(text))
    replies = nlu.replies
    for text in ["是的", "😂😂", "asdf", "жжж", "还是不行"]:  # knows: some feature of the model
        assert replies.knows(text) == (len(replies.vectorizer.vector(replies.tokenizer.tokens(text))[0]) > 0)
    assert replies.knows("是的") and not replies.knows("жжж")


def test_parse_shape_and_entities_on_the_original_text(nlu: NLU):
    text = "昨天下午三点充的１００元，用的银行卡"
    result = nlu.parse(text)
    assert set(result) == {"text", "intent", "confidence", "entities", "ranking"}
    assert result["text"] == text
    by_kind = {e["entity"]: e for e in result["entities"]}
    assert by_kind["amount"]["value"] == "100"
    assert text[by_kind["amount"]["start"] : by_kind["amount"]["end"]] == "１００元"
    assert by_kind["method"]["value"] == "银行卡"
    assert by_kind["time"]["value"].endswith("15:00")
    confidences = [r["confidence"] for r in result["ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert 0.0 <= result["confidence"] <= 1.0


def test_empty_and_binary_text_do_not_crash(nlu: NLU):
    assert nlu.parse("")["intent"] == "out_of_scope"
    assert nlu.parse("\x00\x01\ufffd")["intent"]


def test_saved_model_is_plain_json_and_arrays(trained_models_dir: Path):
    folder = trained_models_dir / "nlu"
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert {"fingerprint", "trained_at", "versions", "labels", "temperature"} <= set(meta)
    with zipfile.ZipFile(folder / "weights.npz") as archive:
        assert sorted(archive.namelist()) == ["coef_t.npy", "idf.npy", "intercept.npy"]
    assert not list(folder.glob("*.pkl")) and not list(folder.glob("*.joblib"))


def test_missing_model_is_reported_with_the_command_to_run(tmp_path: Path):
    with pytest.raises(ModelNotTrained, match="run `walletbot train`"):
        IntentClassifier.load(tmp_path)
    assert read_meta(tmp_path) is None


def test_model_state_detects_stale_data(tmp_path: Path, trained_models_dir: Path):
    data = PROJECT / "data"
    assert model_state(data, trained_models_dir) is ModelState.READY
    assert model_state(data, tmp_path) is ModelState.UNTRAINED
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    (copy / "nlu" / "greet.yml").write_text(
        (copy / "nlu" / "greet.yml").read_text(encoding="utf-8") + "    - 早上好呀朋友\n", encoding="utf-8"
    )
    assert model_state(copy, trained_models_dir) is ModelState.STALE
