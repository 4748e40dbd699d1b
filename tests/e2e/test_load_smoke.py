"""A few seconds of the load benchmark's mixed workload (`benchmarks/workload.py`) against one `triage-bot run`.

The benchmark (`benchmarks/load.py`) runs the same workload on two replicas at 50 requests/s for a minute; this is
its smoke version: a low rate, one replica (gunicorn, as a process), the emulator in this process.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from benchmarks.workload import (
    CHANNEL,
    Driver,
    Kind,
    error_counts,
    new_workspace,
    replica_env,
    replicas,
    verify,
    wait_for_outbox,
)

SECRET = "load-smoke-secret"


def test_mixed_workload_acknowledges_everything_and_opens_each_incident_once(
    database_url: str, clean_db: Engine, tmp_path: Path
) -> None:
    emulator, workspace = new_workspace(users=64)
    with emulator.serve() as api:
        env = replica_env(database_url, f"{api.url}/api/", emulator.bot_token, SECRET, LOG_LEVEL="WARNING")
        with replicas(1, env, tmp_path) as (replica,):
            driver = Driver(emulator, workspace, [replica.url], SECRET, database_url, rate=10, seconds=8, think=0.5)
            outcomes = driver.run()
            pending = wait_for_outbox(database_url, timeout=20)
            checked = verify(database_url, emulator, CHANNEL, driver.submitted_views, driver.accepted_views)

    assert error_counts(outcomes) == {}, "every request acknowledged with 200 inside 3 s, every form opened"
    assert [(o.kind, o.refused) for o in outcomes if o.refused] == []
    assert {o.kind for o in outcomes} == set(Kind), "every request type was sent"
    assert pending == 0
    assert checked.accepted >= 5
    assert checked.ok, "\n".join(checked.lines())
