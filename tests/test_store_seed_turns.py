"""The insights' bench seeding writes what the engine writes: the insights read it."""

from __future__ import annotations

from datetime import timedelta

from bench.seed_bench import insert_fake_tickets
from bot.store import Database
from bot.store.insights import InsightQuery, compute_insights
from bot.store.seed_turns import insert_fake_turns


def test_seeded_turns_feed_every_figure(database: Database) -> None:
    insert_fake_tickets(database, 20)
    counts = insert_fake_turns(database, 400)
    assert counts["turns"] == 400  # 20 ticket conversations x 6 turns, then 35 others x 8
    assert counts["conversations_without_ticket"] == 35
    with database.session(readonly=True) as s:
        figures = compute_insights(s, InsightQuery.last(timedelta(days=91)))
    conv = figures["conversations"]
    assert (conv["conversations"], conv["escalated"]) == (55, 20)
    assert sum(figures["escalation_reasons"].values()) == 20
    funnel = figures["funnels"]["topup_problem"]
    assert funnel["network"]["escalated"] == 20  # every ticket conversation escalated there
    assert funnel["account_info"]["reached"] > 20  # and the solved and left ones began there too
    assert funnel["account_info"]["choices"]["还是不行"] == funnel["network"]["reached"]
    assert figures["tickets"]["opened"] == 20
