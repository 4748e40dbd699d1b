from dataclasses import replace
from datetime import timedelta

import pytest

from bot.domain.incidents import EnvironmentReport, ReportField, parse_incident_key, split_browser, validate_report
from tests.conftest import T0
from tests.factories import a_report


def test_a_complete_report_has_no_problems() -> None:
    assert validate_report(a_report(T0), now=T0) == {}


def test_required_fields_are_named_when_missing() -> None:
    report = a_report(T0, client_name="  ", title="", blocker=None, severity=None)
    problems = validate_report(report, now=T0)
    assert set(problems) == {ReportField.CLIENT, ReportField.TITLE, ReportField.BLOCKER, ReportField.SEVERITY}
    assert problems[ReportField.TITLE] == "Give the incident a short title."


def test_a_deadline_in_the_past_is_refused() -> None:
    problems = validate_report(a_report(T0, deadline_at=T0 - timedelta(minutes=1)), now=T0)
    assert set(problems) == {ReportField.DEADLINE}
    assert "in the past" in problems[ReportField.DEADLINE]


def test_no_deadline_is_fine() -> None:
    assert validate_report(a_report(T0, deadline_at=None), now=T0) == {}


@pytest.mark.parametrize("size", ["abc", "12 parsecs"])
def test_a_file_size_that_is_not_a_size_is_refused(size: str) -> None:
    report = a_report(T0)
    report = replace(report, environment=replace(report.environment, file_size=size))
    assert validate_report(report, now=T0) == {
        ReportField.FILE_SIZE: "Enter a size such as 250 MB, 1.2GB, 3 GiB or 800k."
    }


def test_text_over_the_limit_is_refused_with_its_length() -> None:
    problems = validate_report(a_report(T0, title="x" * 121), now=T0)
    assert problems == {ReportField.TITLE: "Keep this under 120 characters (it has 121)."}


def test_an_unknown_frequency_is_refused() -> None:
    report = a_report(T0, environment=EnvironmentReport(frequency="daily-ish"))
    assert set(validate_report(report, now=T0)) == {ReportField.FREQUENCY}


@pytest.mark.parametrize(
    ("typed", "split"),
    [
        ("Chrome 126.0.1", ("Chrome", "126.0.1")),
        ("Firefox/128", ("Firefox", "128")),
        ("Safari", ("Safari", None)),
        ("Edge v125", ("Edge", "125")),
    ],
)
def test_browser_family_and_version_are_split(typed: str, split: tuple[str, str | None]) -> None:
    assert split_browser(typed) == split


@pytest.mark.parametrize(
    ("reference", "number"), [("INC-7", 7), ("inc7", 7), ("7", 7), (" INC-12 ", 12), ("INC-", None), ("x", None)]
)
def test_incident_keys_are_read_leniently(reference: str, number: int | None) -> None:
    assert parse_incident_key(reference) == number
