"""Whole conversations through the real engine, checked as `walletbot test` checks them.

- every scenario of tests/conversations/*.yml is one test case and must pass (an unreadable file
  is one failing case naming its problems);
- the development set (tests/data/conversations_dev.yml, a verbatim copy of
  ../shared/eval/conversations_dev.yml) must pass at DEV_PASS_SHARE or better: it is the target
  of the dialogue work, measured as a whole rather than sentence by sentence;
- each blind set (tests/data/conversations_blind*.yml: written by testers who had not seen the
  bot, then used to find mechanisms to fix) must pass at BLIND_PASS_SHARE or better, so that
  later work keeps what they taught; the newest ones keep at least their BLIND_FLOORS passes;
- the known gaps (tests/data/conversations_gaps.yml: desired behaviour the bot does not meet yet)
  are expected failures, strictly: one that starts to pass fails here until it is moved back to
  tests/conversations/.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_fixtures import make_settings

from bot.measure.scenarios import ScenarioFileError, ScenarioResult, ScenarioRunner, load_scenarios

HERE = Path(__file__).resolve().parent
CONVERSATIONS = HERE / "conversations"
DEV_SET = HERE / "data" / "conversations_dev.yml"
GAPS = HERE / "data" / "conversations_gaps.yml"
DEV_PASS_SHARE = 0.90
BLIND_SETS = sorted((HERE / "data").glob("conversations_blind*.yml"))
BLIND_PASS_SHARE = 0.85
# Sets first run late in the work still fail more often than that: until the mechanisms they
# show are built, each must keep at least the passes it had when last measured (first run ->
# now). Stop 23: blind 7-10 (23 -> 30, 24 -> 34, 16 -> 22, 19 -> 24). Stop 24: blind 11-18
# (27 -> 34, 25 -> 34, 24 -> 33, 24 -> 29, 33 -> 36, 33 -> 35, 28 -> 34, 27 -> 30; blind 19, written last: 38 on its first run, 40 at the end).
# Stop 25: blind 20-22 (26 -> 35, 28 -> 37, 35 -> 37), blind 23-24 (24 -> 30, 32 -> 37);
# docs/testing-conversations.md. Raise
# these as they pass more.
BLIND_FLOORS = {
    "conversations_blind7.yml": 30,
    "conversations_blind8.yml": 35,
    "conversations_blind9.yml": 22,
    "conversations_blind10.yml": 26,
    "conversations_blind11.yml": 34,
    "conversations_blind12.yml": 35,
    "conversations_blind13.yml": 33,
    "conversations_blind14.yml": 34,
    "conversations_blind15.yml": 38,
    "conversations_blind16.yml": 35,
    "conversations_blind17.yml": 34,
    "conversations_blind18.yml": 31,
    "conversations_blind19.yml": 40,
    "conversations_blind20.yml": 35,
    "conversations_blind21.yml": 37,
    "conversations_blind22.yml": 37,
    "conversations_blind23.yml": 30,
    "conversations_blind24.yml": 37,
}


def _cases() -> list:
    """One case per scenario, read at collection so that each has its own test id."""
    cases = []
    for path in sorted(CONVERSATIONS.glob("*.yml")) + sorted(CONVERSATIONS.glob("*.yaml")):
        try:
            cases += [pytest.param(sc, id=f"{path.stem}:{sc.name}") for sc in load_scenarios(path)]
        except ScenarioFileError as exc:
            cases.append(pytest.param(exc, id=f"{path.stem}:unreadable"))
    return cases


@pytest.fixture(scope="session")
def scenario_runner(runtime, trained_models_dir: Path) -> Iterator[ScenarioRunner]:
    """The session's runtime and one throwaway database for every scenario."""
    with ScenarioRunner(make_settings("sqlite://", trained_models_dir), runtime) as runner:
        yield runner


def _explain(result: ScenarioResult) -> str:
    """The failure line, every failed expectation, and the conversation as it went."""
    lines = [result.line()]
    lines += [f"  turn {f.turn}: {f.message}" for f in result.failures[1:]]
    for t in result.transcript:
        lines.append(f"  {t['turn']}. {t['input']}")
        lines.append(f"     bot: {t.get('text', t.get('error'))}  {t.get('buttons') or ''}  {t.get('state') or ''}")
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", _cases())
def test_conversation(scenario_runner: ScenarioRunner, scenario) -> None:
    if isinstance(scenario, ScenarioFileError):
        pytest.fail(str(scenario), pytrace=False)
    result = scenario_runner.run(scenario)
    assert result.passed, _explain(result)


def test_development_set_mostly_passes(scenario_runner: ScenarioRunner) -> None:
    results = scenario_runner.run_all(load_scenarios(DEV_SET))
    passed, total = sum(r.passed for r in results), len(results)
    failures = "\n".join(r.line() for r in results if not r.passed)
    assert passed >= DEV_PASS_SHARE * total, (
        f"{passed} of {total} development scenarios pass, {DEV_PASS_SHARE:.0%} needed; failing:\n{failures}"
    )


@pytest.mark.parametrize("path", BLIND_SETS, ids=[p.stem for p in BLIND_SETS])
def test_blind_set_mostly_passes(scenario_runner: ScenarioRunner, path: Path) -> None:
    results = scenario_runner.run_all(load_scenarios(path))
    passed, total = sum(r.passed for r in results), len(results)
    failures = "\n".join(r.line() for r in results if not r.passed)
    needed = BLIND_FLOORS.get(path.name, BLIND_PASS_SHARE * total)
    assert passed >= needed, (
        f"{passed} of {total} scenarios of {path.name} pass, {needed:.0f} needed; failing:\n{failures}"
    )


def test_there_are_blind_sets() -> None:
    assert len(BLIND_SETS) >= 3, BLIND_SETS


@pytest.mark.parametrize("scenario", [pytest.param(sc, id=sc.name) for sc in load_scenarios(GAPS)])
def test_known_gap_still_fails(scenario_runner: ScenarioRunner, scenario) -> None:
    result = scenario_runner.run(scenario)
    assert not result.passed, f"{scenario.name} passes now: move it from {GAPS.name} back to tests/conversations/"
