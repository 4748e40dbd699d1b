"""`benchmarks/ack_latency.py --spread`: an app's acknowledgements at one level, every run's together."""

from __future__ import annotations

from benchmarks.ack_latency import SPREAD, Load, Result, spread_line


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
