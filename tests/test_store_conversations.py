"""bot.store.conversations: tokens, turns, dialogue state, one message at a time."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.store import (
    Database,
    StoreError,
    Turn,
    append_turn,
    create_conversation,
    get_conversation,
    list_turns,
    lock_conversation,
    record_turns,
    save_state,
    stored_reply,
    token_hash_matches,
)


def test_only_the_token_hash_is_stored(database: Database) -> None:
    with database.session() as s:
        conv, token = create_conversation(s, brand="kdou", channel="http")
    assert len(conv.id) == 32 and int(conv.id, 16) >= 0
    assert len(token) >= 40
    assert conv.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(conv) and conv.token_hash not in repr(conv)
    with database.session() as s:
        loaded = get_conversation(s, conv.id)
        assert loaded is not None
        assert token_hash_matches(loaded.token_hash, token)
        assert not token_hash_matches(loaded.token_hash, token + "x")
        assert not token_hash_matches(loaded.token_hash, conv.token_hash)
        assert not token_hash_matches(loaded.token_hash, "")
        assert not token_hash_matches(loaded.token_hash, None)


def test_new_conversation_starts_empty(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="upay", channel="cli")
    assert (conv.brand, conv.channel, conv.state, conv.human_owner, conv.turn_count) == (
        "upay",
        "cli",
        {},
        False,
        0,
    )
    assert conv.created_at == conv.updated_at


def test_unknown_conversation_is_none(database: Database) -> None:
    with database.session() as s:
        assert get_conversation(s, "0" * 32) is None
        assert get_conversation(s, "0" * 32, lock=True) is None


def test_turns_are_numbered_and_listed_in_order(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        first = append_turn(s, conv, role="user", text="充值没到账")
        append_turn(
            s,
            conv,
            role="bot",
            text="请先检查网络。",
            meta={"buttons": [{"title": "正常", "payload": "/affirm"}], "flow": "topup", "step": "net"},
        )
        append_turn(s, conv, role="user", text="正常", payload="/affirm", intent="affirm", confidence=0.93)
    assert first.seq == 1 and conv.turn_count == 3

    with database.session() as s:
        turns = list_turns(s, conv.id)
        assert [(t.seq, t.role, t.text) for t in turns] == [
            (1, "user", "充值没到账"),
            (2, "bot", "请先检查网络。"),
            (3, "user", "正常"),
        ]
        assert turns[1].meta["buttons"] == [{"title": "正常", "payload": "/affirm"}]
        assert (turns[2].payload, turns[2].intent, turns[2].confidence) == ("/affirm", "affirm", 0.93)
        assert turns[0].meta == {} and turns[0].payload is None
        assert [t.seq for t in list_turns(s, conv.id, after_seq=2)] == [3]
        assert list_turns(s, conv.id, after_seq=3) == []


def test_unknown_turn_role_is_refused(database: Database) -> None:
    with pytest.raises(StoreError) as info:
        with database.session() as s:
            conv, _ = create_conversation(s, brand="kdou", channel="http")
            append_turn(s, conv, role="robot", text="hi")
    assert str(info.value) == ("Unknown turn role 'robot': use one of 'user', 'bot', 'agent', 'system'.")


def test_state_survives_a_restart(database_url: str) -> None:
    state = {"flow": "topup", "step": "check_balance", "trail": [{"step": "net", "answer": "正常"}]}
    with Database(database_url) as first:
        first.migrate()
        with first.session() as s:
            conv, token = create_conversation(s, brand="kdou", channel="http")
            append_turn(s, conv, role="user", text="充值没到账")
            save_state(conv, state)
            conv.human_owner = True
        state["step"] = "changed after saving"  # the store kept its own copy

    with Database(database_url) as second:  # a new process: nothing cached
        with second.session() as s:
            loaded = get_conversation(s, conv.id)
            assert loaded is not None
            assert loaded.state == {
                "flow": "topup",
                "step": "check_balance",
                "trail": [{"step": "net", "answer": "正常"}],
            }
            assert loaded.human_owner is True and loaded.turn_count == 1
            assert token_hash_matches(loaded.token_hash, token)
            assert [t.text for t in list_turns(s, conv.id)] == ["充值没到账"]


def test_save_state_sees_in_place_changes(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        save_state(conv, {"misses": 0})
    before = conv.updated_at
    with database.session() as s:
        loaded = get_conversation(s, conv.id, lock=True)
        assert loaded is not None
        state = loaded.state
        state["misses"] = 1  # mutate the loaded dict itself, then save it
        save_state(loaded, state)
    with database.session() as s:
        again = get_conversation(s, conv.id)
        assert again is not None
        assert again.state == {"misses": 1}
        assert again.updated_at >= before


def test_locked_appends_from_two_threads_never_share_a_seq(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
    per_thread = 15
    start = threading.Barrier(2)

    def worker(name: str) -> None:
        start.wait()
        for i in range(per_thread):
            with database.session() as s:
                locked = get_conversation(s, conv.id, lock=True)
                assert locked is not None
                append_turn(s, locked, role="user", text=f"{name}-{i}")

    with ThreadPoolExecutor(2) as pool:
        for future in [pool.submit(worker, n) for n in ("a", "b")]:
            future.result()

    with database.session() as s:
        turns = list_turns(s, conv.id)
        loaded = get_conversation(s, conv.id)
    assert [t.seq for t in turns] == list(range(1, 2 * per_thread + 1))
    assert loaded is not None and loaded.turn_count == 2 * per_thread
    # each thread's own messages stay in its order
    for name in ("a", "b"):
        mine = [t.text for t in turns if t.text.startswith(name)]
        assert mine == [f"{name}-{i}" for i in range(per_thread)]


_WORKER = textwrap.dedent(
    """
    import sys
    from bot.store import Database, append_turn, get_conversation
    db = Database(sys.argv[1])
    for i in range(int(sys.argv[3])):
        with db.session() as s:
            conv = get_conversation(s, sys.argv[2], lock=True)
            append_turn(s, conv, role="user", text=f"{sys.argv[4]}-{i}")
    db.dispose()
    """
)


def test_two_processes_appending_to_one_conversation_take_turns(
    database: Database, database_url: str, tmp_path: Path
) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
    script = tmp_path / "worker.py"
    script.write_text(_WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), database_url, conv.id, "20", name],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p", "q")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err

    with database.session() as s:
        turns: list[Turn] = list_turns(s, conv.id)
    assert [t.seq for t in turns] == list(range(1, 41))
    assert sorted(t.text for t in turns) == sorted([f"p-{i}" for i in range(20)] + [f"q-{i}" for i in range(20)])


def test_record_turns_numbers_after_the_last_turn_and_saves_the_state(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        append_turn(s, conv, role="user", text="你好")
    with database.session() as s:
        locked = get_conversation(s, conv.id, lock=True)
        assert locked is not None
        record_turns(
            s.connection(),
            locked,
            [
                {
                    "role": "user",
                    "text": "充值失败",
                    "intent": "topup_problem",
                    "confidence": 0.9,
                    "meta": {"outcome": "flow"},
                },
                {"role": "bot", "text": "请先检查网络", "meta": {"buttons": [{"title": "好了", "payload": "/ok"}]}},
            ],
            {"flow": "topup_problem", "step": "network"},
        )
    with database.session() as s:
        turns = list_turns(s, conv.id)
        loaded = get_conversation(s, conv.id)
    assert [(t.seq, t.role, t.text) for t in turns] == [
        (1, "user", "你好"),
        (2, "user", "充值失败"),
        (3, "bot", "请先检查网络"),
    ]
    assert turns[1].intent == "topup_problem" and turns[1].meta == {"outcome": "flow"}
    assert turns[2].meta["buttons"][0]["payload"] == "/ok" and turns[2].payload is None
    assert (
        loaded is not None and loaded.turn_count == 3 and loaded.state == {"flow": "topup_problem", "step": "network"}
    )
    assert loaded.updated_at >= turns[0].created_at
    with pytest.raises(StoreError, match="Unknown turn role 'robot'"):
        with database.transaction() as connection:
            locked = lock_conversation(connection, conv.id)
            record_turns(connection, locked, [{"role": "robot", "text": "x"}], {})  # type: ignore[arg-type]


def test_lock_conversation_reads_what_a_message_needs(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="upay", channel="http")
        save_state(conv, {"flow": "refund"})
        append_turn(s, conv, role="user", text="退款")
    with database.transaction() as connection:
        locked = lock_conversation(connection, conv.id)
        assert lock_conversation(connection, "nope") is None
        assert locked is not None
        assert (locked.id, locked.brand, locked.state, locked.human_owner, locked.turn_count) == (
            conv.id,
            "upay",
            {"flow": "refund"},
            False,
            1,
        )
        record_turns(connection, locked, [{"role": "user", "text": "还没到"}], {"flow": "refund", "step": "wait"})
    with database.session() as s:
        assert [t.seq for t in list_turns(s, conv.id)] == [1, 2]
        assert get_conversation(s, conv.id).state == {"flow": "refund", "step": "wait"}  # type: ignore[union-attr]


def test_stored_reply_finds_the_message_by_its_client_id(database: Database) -> None:
    with database.session() as s:
        conv, _ = create_conversation(s, brand="kdou", channel="http")
        for n in range(3):
            append_turn(s, conv, role="user", text=f"m{n}", meta={"message_id": f"id-{n}", "reply": {"n": n}})
            append_turn(s, conv, role="bot", text="ok", meta={"message_id": "id-9"})  # a bot turn never counts
    with database.transaction() as connection:
        assert stored_reply(connection, conv.id, "id-1") == {"n": 1}
        assert stored_reply(connection, conv.id, "id-9") is None
        assert stored_reply(connection, "other", "id-1") is None
