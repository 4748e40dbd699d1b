"""Jira settings: the severity → priority mapping and issue types, and the `jira` library the project pins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from bot.config import SettingsError, load_settings
from bot.models import Severity

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_defaults_are_todays_mapping_and_issue_types() -> None:
    settings = load_settings()

    assert settings.jira_priority_by_severity == {
        Severity.SEV1: "Highest",
        Severity.SEV2: "High",
        Severity.SEV3: "Medium",
        Severity.SEV4: "Low",
    }
    assert (settings.jira_issue_type, settings.jira_product_issue_type, settings.jira_follow_up_issue_type) == (
        "Bug",
        "Task",
        "Task",
    )


def test_the_priority_mapping_is_configurable() -> None:
    settings = load_settings(jira_priorities="sev1=P1, SEV2=P2,SEV3=P3 ,SEV4=Low Priority", jira_issue_type="Defect")

    assert list(settings.jira_priority_by_severity.values()) == ["P1", "P2", "P3", "Low Priority"]
    assert settings.jira_issue_type == "Defect"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "SEV1=P1,SEV2=P2,SEV3=P3",
            "Invalid setting JIRA_PRIORITIES: missing SEV4 (as in SEV1=Highest,SEV2=High,SEV3=Medium,SEV4=Low)",
        ),
        (
            "SEV1=P1,SEV2=P2,SEV3=P3,SEV4=P4,SEV5=P5",
            "Invalid setting JIRA_PRIORITIES: 'SEV5=P5' is not SEVn=priority name "
            "(as in SEV1=Highest,SEV2=High,SEV3=Medium,SEV4=Low)",
        ),
        (
            "SEV1=,SEV2=P2,SEV3=P3,SEV4=P4",
            "Invalid setting JIRA_PRIORITIES: 'SEV1=' names no priority (as in SEV1=Highest,SEV2=High,SEV3=Medium,SEV4=Low)",
        ),
    ],
)
def test_a_malformed_priority_mapping_stops_start_up_in_one_line(value: str, message: str) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings(jira_priorities=value)

    assert str(refused.value) == message


def test_an_empty_issue_type_is_refused() -> None:
    with pytest.raises(SettingsError, match=r"^Invalid setting JIRA_PRODUCT_ISSUE_TYPE: must not be empty$"):
        load_settings(jira_product_issue_type="  ")


def test_the_jira_library_pin_excludes_versions_that_call_the_removed_search() -> None:
    """jira < 3.10 calls /rest/api/2/search, which Jira Cloud answers with 410 Gone."""
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [pin] = [Requirement(d) for d in dependencies if Requirement(d).name == "jira"]

    assert not pin.specifier.contains("3.8.0") and not pin.specifier.contains("3.9.0")
    assert pin.specifier.contains("3.10.0")
