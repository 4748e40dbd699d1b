"""CPU per `views.open` in the bot's own process: the new-incident form against a one-field modal.

    .venv/bin/python benchmarks/form_cost.py [--calls 750] [--rounds 3] [--compare-json] [--compare-transport]

The calls go through the bot's Slack client (`build_web_client`: slack_sdk's WebClient on kept-alive connections)
to the emulator in a process of its own, one at a time; each figure is the calling thread's CPU time per call
(`time.thread_time`), so the emulator's work is not in it. The difference between the two forms is what opening
the bot's 18-block form costs a worker beyond the one-field modal `benchmarks/ack_latency.py` gives bare Bolt:
encoding the form, decoding Slack's answer (which repeats the whole view) and moving both through the socket.
The client's JSON is orjson (`bot.integrations.slack_json`, as in the bot); `--compare-json` adds the form
encoded and decoded by slack_sdk's own (the standard library's `json`). `--compare-transport` adds the form sent by
slack_sdk's own transport (urllib and `http.client`, a new connection per call, as bare Bolt sends it) instead of
the bot's kept-alive HTTP/1.1 connections (`bot.integrations.http1`).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slack_sdk import WebClient  # noqa: E402

from benchmarks.ack_latency import SECRET, emulator_process, free_port  # noqa: E402
from benchmarks.one_field import ONE_FIELD  # noqa: E402
from blocks.new_incident import new_incident_modal  # noqa: E402
from bot.integrations import slack_json  # noqa: E402
from bot.integrations.slack import build_web_client  # noqa: E402
from bot.observability.logs import SLACK_SDK_CALLS  # noqa: E402
from bot.sandbox.emulator import RateLimits, SlackEmulator  # noqa: E402
from bot.sandbox.platform import SlackPlatform  # noqa: E402

WARMUP = 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=750, help="calls per form per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the forms take turns within each")
    parser.add_argument("--compare-json", action="store_true", help="also the form on the standard library's json")
    parser.add_argument("--compare-transport", action="store_true", help="also the form on slack_sdk's own transport")
    args = parser.parse_args()
    logging.getLogger(SLACK_SDK_CALLS).setLevel(logging.WARNING)  # as the bot's logging set-up does

    emulator = SlackEmulator(trigger_ttl_seconds=3600, rate_limits=RateLimits(enabled=False))
    user = emulator.add_user("UB000", "bench")["id"]
    emulator.add_channel("bench", id="CBENCH", members=[user])
    emulator.base_url = "http://127.0.0.1:9"  # response URLs are never used here
    platform = SlackPlatform(emulator, "unused", SECRET)
    form = new_incident_modal(channel_id="CBENCH")
    count = 2 + args.compare_json + args.compare_transport
    total = count * (WARMUP + args.rounds * args.calls)
    # Minted before the emulator's process is forked: it knows only the triggers minted so far.
    triggers = iter([platform.slash_command_fields(user, "CBENCH")["trigger_id"] for _ in range(total)])
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(emulator_process(emulator, free_port()))
        client = build_web_client(token=emulator.bot_token, base_url=slack.url)
        forms: dict[str, tuple[dict[str, Any], bool, WebClient]] = {  # the view, whether on orjson, the client
            "new-incident form (18 blocks)": (form, True, client),
            "one-field modal": (ONE_FIELD, True, client),
        }
        if args.compare_json:
            forms["the form on the stdlib's json"] = (form, False, client)
        if args.compare_transport:
            slack_sdks_own = WebClient(token=emulator.bot_token, base_url=slack.url)
            forms["the form on slack_sdk's transport"] = (form, True, slack_sdks_own)
        spent: dict[str, list[float]] = {name: [] for name in forms}

        def cpu_per_call(view: dict[str, Any], on_orjson: bool, sender: WebClient, calls: int) -> float:
            if on_orjson:
                slack_json.install()
            else:
                slack_json.uninstall()
            started = time.thread_time()
            for _ in range(calls):
                sender.views_open(trigger_id=next(triggers), view=view)
            return (time.thread_time() - started) / calls

        for view, on_orjson, sender in forms.values():
            cpu_per_call(view, on_orjson, sender, WARMUP)
        for _ in range(args.rounds):
            for name, (view, on_orjson, sender) in forms.items():
                spent[name].append(cpu_per_call(view, on_orjson, sender, args.calls))
        slack_json.install()
    print(f"CPU of the calling thread per views.open, median of {args.rounds} rounds of {args.calls} calls")
    for name, rounds in spent.items():
        each = ", ".join(f"{seconds * 1e6:.0f}" for seconds in rounds)
        print(f"  {name:<34} {statistics.median(rounds) * 1e6:6.0f} us  (rounds: {each})")


if __name__ == "__main__":
    main()
