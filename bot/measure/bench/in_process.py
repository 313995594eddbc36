"""Latency inside this process: `Assistant.handle` for whole conversations, then the NLU and the
FAQ search alone, each on freshly loaded objects.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.config import Settings
from bot.measure.bench.messages import MESSAGES_PER_CONVERSATION
from bot.measure.bench.options import Progress
from bot.measure.bench.stats import latency_summary


def bench_in_process(
    settings: Settings, messages: Sequence[str], warmup: Sequence[str], progress: Progress
) -> dict[str, Any]:
    """Each message through `Assistant.handle` (guard, NLU, policy, FAQ, database) in
    conversations of MESSAGES_PER_CONVERSATION, then the NLU and the FAQ search alone; each
    stage on freshly loaded objects so no cache is pre-warmed by an earlier stage (jieba's and
    pypinyin's process-wide caches excepted)."""
    from bot.engine import Assistant, build_runtime
    from bot.nlu.normalize import normalize
    from bot.nlu.pipeline import NLU

    progress(f"in-process: Assistant.handle × {len(messages)}")
    assistant = Assistant.from_settings(settings)
    try:
        conversation = ""
        for number, text in enumerate(warmup):
            if number % MESSAGES_PER_CONVERSATION == 0:
                conversation, _token = assistant.start_conversation(channel="bench")
            assistant.handle(conversation, text=text)
        handle: list[float] = []
        handle_cpu: list[float] = []
        conversations = 0
        for number, text in enumerate(messages):
            if number % MESSAGES_PER_CONVERSATION == 0:
                conversation, _token = assistant.start_conversation(channel="bench")
                conversations += 1
            begin, begin_cpu = time.perf_counter(), time.thread_time()
            assistant.handle(conversation, text=text)
            handle.append(time.perf_counter() - begin)
            handle_cpu.append(time.thread_time() - begin_cpu)
    finally:
        assistant.close()

    progress(f"in-process: NLU parse × {len(messages)}")
    nlu = NLU.load(settings.models_dir)
    for text in warmup:
        nlu.parse(text)
    parse = []
    for text in messages:
        begin = time.perf_counter()
        nlu.parse(text)
        parse.append(time.perf_counter() - begin)

    progress(f"in-process: FAQ search × {len(messages)}")
    faq = build_runtime(settings, NLU.load(settings.models_dir)).faq
    for text in warmup:
        faq.search(normalize(text))
    search = []
    for text in messages:
        begin = time.perf_counter()
        faq.search(normalize(text))
        search.append(time.perf_counter() - begin)

    return {
        "messages": len(messages),
        "conversations": conversations,
        "handle": latency_summary(handle),
        # CPU time of the same calls: what the turn costs whatever else the machine is doing.
        "handle_cpu": latency_summary(handle_cpu),
        "nlu_parse": latency_summary(parse),
        "faq_search": latency_summary(search),
    }
