"""`benchmarks/ack_latency.py`: `--spread` (an app's acknowledgements at one level, every run's together) and `--skip`."""

from __future__ import annotations

from benchmarks.ack_latency import SPREAD, Load, Result, acknowledged, spread_line


def test_the_spread_pools_every_run_and_gives_p99_over_p50() -> None:
    first = Result([n / 1000 for n in range(1, 51)], failures=0)  # 1..50 ms
    second = Result([n / 1000 for n in range(51, 101)], failures=0)  # 51..100 ms
    line = spread_line(Load(concurrency=8), "triage-bot", [first, second])
    label, name, figures = (part.strip() for part in line.split("|"))
    assert (label, name) == ("8", "triage-bot")
    *percentiles, ratio = (float(figure) for figure in figures.split())
    assert len(percentiles) == len(SPREAD)
    assert percentiles == [2.0, 11.0, 26.0, 51.0, 75.0, 90.0, 99.0]  # nearest rank over all 100 latencies
    assert ratio == round(99.0 / 51.0, 2)


def test_skipping_leaves_out_the_first_acknowledgements_but_counts_every_failure() -> None:
    outcomes: list[tuple[float, float | None]] = [(0.0, 0.030), (0.1, None), (0.2, 0.012), (0.3, None), (0.4, 0.011)]
    assert acknowledged(outcomes) == ([0.030, 0.012, 0.011], 2)
    assert acknowledged(outcomes, skip=2) == ([0.012, 0.011], 2)
    assert acknowledged(outcomes, skip=9) == ([], 2)


def test_a_run_reports_every_command_sent_even_when_some_are_skipped() -> None:
    run = Result([0.012, 0.011], failures=1, sent=10)
    assert run.commands == 10
    assert Result([0.012, 0.011], failures=1).commands == 3  # without a count, what it holds
