from datetime import timedelta
from zoneinfo import ZoneInfo

from blocks.text import escape_mrkdwn, mention, slack_time, time_left
from bot.domain.durations import humanize_duration, took
from tests.conftest import T0


def test_typed_mentions_and_links_become_inert_text() -> None:
    typed = "<!channel> ping <@U123> and <https://evil.example|click> & more"
    assert (
        escape_mrkdwn(typed) == "&lt;!channel&gt; ping &lt;@U123&gt; and &lt;https://evil.example|click&gt; &amp; more"
    )


def test_mentions_for_users_and_groups() -> None:
    assert mention("U123") == "<@U123>"
    assert mention("S0ONCALL") == "<!subteam^S0ONCALL>"


def test_durations_read_like_a_person_would_say_them() -> None:
    assert humanize_duration(timedelta(hours=1, minutes=55)) == "1 h 55 min"
    assert humanize_duration(timedelta(days=1, hours=3)) == "1 d 3 h"
    assert humanize_duration(timedelta(seconds=30)) == "less than a minute"
    assert time_left(T0 + timedelta(hours=2), T0) == "in 2 h"
    assert time_left(T0 - timedelta(minutes=5), T0) == "passed 5 min ago"


def test_how_long_something_took_reads_in_words_never_0_min() -> None:
    assert took(timedelta(seconds=20)) == "in under a minute"
    assert took(timedelta(seconds=59)) == "in under a minute"
    assert took(timedelta(minutes=4, seconds=10)) == "after 4 min"
    assert took(timedelta(hours=1, minutes=5)) == "after 1 h 5 min"


def test_a_whole_day_reads_24_h_and_only_longer_spans_read_in_days() -> None:
    """People say "24 h" for a day: time to resolve, isolation windows and deadlines show it so."""
    assert humanize_duration(timedelta(hours=24)) == "24 h"
    assert humanize_duration(timedelta(hours=25)) == "1 d 1 h"
    assert humanize_duration(timedelta(hours=48)) == "2 d"
    assert humanize_duration(timedelta(hours=23, minutes=59)) == "23 h 59 min"
    assert humanize_duration(-timedelta(hours=24)) == "24 h", "a span past reads the same"
    assert time_left(T0 + timedelta(hours=24), T0) == "in 24 h"


def test_times_render_in_each_viewers_zone_with_a_fallback() -> None:
    rendered = slack_time(T0, ZoneInfo("Europe/London"))
    assert rendered == f"<!date^{int(T0.timestamp())}^{{date_short_pretty}} {{time}}|Mon 30 Nov 09:00 GMT>"


def test_links_are_made_only_from_plain_http_urls() -> None:
    from blocks.text import link

    assert (
        link("https://ci.example/runs/9?a=1&b=2", "run <9>") == "<https://ci.example/runs/9?a=1&amp;b=2|run &lt;9&gt;>"
    )
    assert link("https://ci.example/x>|<!channel", "deploy") == "deploy"
    assert link("javascript:alert(1)", "x") == "x"
    assert link(None, "INC-1") == "INC-1"
