"""A few seconds of the fairness benchmark (`benchmarks/fairness.py`): Slack's rate limits on, OAuth installs.

The benchmark runs 200 workspaces, a 2,200-message backlog and two replicas; this is its smoke version: one replica,
a noisy workspace whose storm channel gets a little more than the burst, and three quiet workspaces opening an
incident each. It checks what the run delivered, not how fast (the benchmark reports that).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from benchmarks.fairness import NOISY, bench, channel_drains, ledger, parse_args, quiet_latencies, rate_limited


def test_a_noisy_workspace_drains_in_order_while_quiet_workspaces_get_their_incidents_posted(
    database_url: str, clean_db: Engine, tmp_path: Path
) -> None:
    noisy = ["--noisy-messages", "12", "--spread-messages", "4", "--spread-channels", "2"]
    args = parse_args(
        ["--workspaces", "4", *noisy, "--replicas", "1", "--rate", "10", "--think", "0.2", "--seconds", "1"]
    )
    run = bench(args, database_url, tmp_path)

    assert [o.error for o in run.openings] == [None] * 3
    latencies = quiet_latencies(run.openings, run.rows)
    assert None not in latencies["root_message"] + latencies["oncall_page"], "every quiet incident announced"
    storm, *spread = channel_drains(run.traffic[NOISY], 12, 4, 2)
    assert len(storm.posted) == 12 and storm.in_order
    assert [len(d.posted) for d in spread] == [2, 2] and all(d.in_order for d in spread)
    assert rate_limited(run.traffic)[0] == 0, "the bot paced itself: Slack never said 429"
    book = ledger(run.rows, run.traffic)
    assert (book.lost, book.doubled, book.pending["noisy"]) == ([], [], 0)
    assert run.replica_tracebacks == 0
