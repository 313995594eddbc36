"""How fast the assistant answers: training, cold start, in-process latency and HTTP load.

    report = run_bench(settings, config_path, BenchOptions.for_mode(quick=False))
    print(format_bench_report(report))

Everything runs in a throw-away folder (a fresh model, fresh SQLite databases), so a benchmark
never touches the project's models/ or database. The servers are real `walletbot serve`
subprocesses on loopback, sent multi-turn conversations (an opening, then typed answers to the
checklist, one conversation at a time per connection). The load generator is `wrk` (a C program,
Debian package `wrk`) with the script chat.lua when it is installed, else asyncio + httpx in this
process, which costs several times more CPU per message. Either way it shares the machine's
cores with the server, so each level reports the server's CPU per message, read from the server
processes' own counters (read with psutil), the figure that does not depend on what else runs.

The report is a plain dict whose keys are documented in docs/performance.md and pinned by
tests/test_measure.py; `schema` changes when a key changes meaning.

One module a job:

    options      what to run (BenchOptions: full or --quick, the load generator)
    messages     the benchmark's messages and conversations, deterministic for a seed
    training     training time, in-process and as `walletbot train`
    in_process   Assistant.handle, NLU and FAQ latency inside this process
    server       a `walletbot serve` subprocess: start, ready, stop
    processes    the server's process tree, RSS and CPU time (psutil)
    wrk          load from wrk running chat.lua
    python_load  load from asyncio + httpx when wrk is missing
    http_load    one server through every concurrency level; the stored order checked after
    scale_out    several processes and workers on one PostgreSQL database
    stats        latency percentiles
    machine      the machine, package versions and git commit a run measured on
    targets      the figures the product aims for, met or not
    run          the whole run, gathered into one report
    report       the report as text tables
"""

from bot.measure.bench.http_load import bench_server, check_order, load_level
from bot.measure.bench.in_process import bench_in_process
from bot.measure.bench.messages import MESSAGES_PER_CONVERSATION, bench_conversations, bench_messages, step_answers
from bot.measure.bench.options import BenchOptions
from bot.measure.bench.report import format_bench_report
from bot.measure.bench.run import BENCH_SCHEMA, run_bench
from bot.measure.bench.scale_out import bench_layout, bench_scale_out
from bot.measure.bench.server import DATA_COPY, MODELS, ServerProcess, start_server
from bot.measure.bench.stats import latency_summary
from bot.measure.bench.targets import TARGETS, Target, measured_targets
from bot.measure.bench.training import bench_training
from bot.measure.bench.wrk import run_wrk, write_conversations

__all__ = [
    "BENCH_SCHEMA",
    "DATA_COPY",
    "MESSAGES_PER_CONVERSATION",
    "MODELS",
    "TARGETS",
    "BenchOptions",
    "ServerProcess",
    "Target",
    "bench_conversations",
    "bench_in_process",
    "bench_layout",
    "bench_messages",
    "bench_scale_out",
    "bench_server",
    "bench_training",
    "check_order",
    "format_bench_report",
    "latency_summary",
    "load_level",
    "measured_targets",
    "run_bench",
    "run_wrk",
    "start_server",
    "step_answers",
    "write_conversations",
]
