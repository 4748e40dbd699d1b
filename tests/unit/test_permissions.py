"""Who may do what: the one rule per action (bot/domain/permissions.py), from plain facts."""

from __future__ import annotations

import pytest

from bot.domain.permissions import (
    Action,
    Actor,
    ChannelFacts,
    IncidentRoles,
    NotPermitted,
    Policy,
    RotationRoles,
    decide,
    report_channel_refusal,
    require,
)

INCIDENT = IncidentRoles("INC-7", owner_id="UOWNER", lead_id="ULEAD", reporter_id="UREPORTER", oncall_id="UONCALL")
PAGED_GROUP = IncidentRoles("INC-8", owner_id=None, lead_id=None, reporter_id="UREPORTER", oncall_id="SONCALL")
ROTATION = RotationRoles("platform", members=frozenset({"UALICE", "UBOB"}), leads=frozenset({"UTEAMLEAD"}))
DECLARERS = Policy(declarers=("UDECLARER", "SDECLARERS"))
NOBODY_CONFIGURED = Policy()

MEMBER = Actor("UMEMBER")
ADMIN = Actor("UADMIN", is_admin=True)
GUEST = Actor("UGUEST", is_guest=True)
GUEST_ADMIN = Actor("UODD", is_admin=True, is_guest=True)  # an owner of another organisation, in a shared channel
DECLARER = Actor("UDECLARER")
IN_DECLARER_GROUP = Actor("UGROUPED", groups=frozenset({"SDECLARERS"}))

EVERY_ACTION = list(Action)


def allowed(action: Action, actor: Actor, policy: Policy = DECLARERS, **facts: object) -> bool:
    defaults: dict[str, object] = {"incident": INCIDENT, "rotation": ROTATION}
    return decide(action, actor, policy, **{**defaults, **facts}).allowed  # type: ignore[arg-type]


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_guests_and_people_from_other_organisations_may_do_nothing(action: Action) -> None:
    assert not allowed(action, GUEST)
    assert not allowed(action, GUEST_ADMIN), "an admin flag from another organisation counts for nothing here"
    assert decide(action, GUEST, DECLARERS, incident=INCIDENT, rotation=ROTATION).who.startswith("full members")


@pytest.mark.parametrize("action", [Action.VIEW, Action.ACKNOWLEDGE, Action.TAKE_OWNERSHIP, Action.WORK])
def test_every_member_may_see_acknowledge_take_ownership_and_work(action: Action) -> None:
    assert allowed(action, MEMBER)


@pytest.mark.parametrize("action", [Action.RESOLVE, Action.CHANGE_SEVERITY])
@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        (Actor("UOWNER"), True),
        (Actor("ULEAD"), True),
        (Actor("UREPORTER"), True),
        (Actor("UONCALL"), True),
        (DECLARER, True),
        (IN_DECLARER_GROUP, True),
        (ADMIN, True),
        (MEMBER, False),
    ],
)
def test_resolving_and_severity_belong_to_the_people_involved_declarers_and_admins(
    action: Action, actor: Actor, expected: bool
) -> None:
    assert allowed(action, actor) is expected


def test_the_paged_on_call_may_be_a_user_group() -> None:
    assert allowed(Action.RESOLVE, Actor("UPAGED", groups=frozenset({"SONCALL"})), incident=PAGED_GROUP)
    assert not allowed(Action.RESOLVE, MEMBER, incident=PAGED_GROUP)


@pytest.mark.parametrize(
    ("actor", "author", "expected"),
    [
        (Actor("UAUTHOR"), "UAUTHOR", True),
        (Actor("UOWNER"), "UAUTHOR", True),
        (Actor("ULEAD"), "UAUTHOR", True),
        (DECLARER, "UAUTHOR", True),
        (ADMIN, "bot", True),
        (Actor("UREPORTER"), "UAUTHOR", False),  # reporters correct their own entries only
        (Actor("UREPORTER"), "UREPORTER", True),
        (Actor("UONCALL"), "bot", False),
        (MEMBER, "UAUTHOR", False),
    ],
)
def test_an_audit_entry_is_corrected_by_its_author_the_owner_lead_declarers_and_admins(
    actor: Actor, author: str, expected: bool
) -> None:
    assert allowed(Action.CORRECT_AUDIT, actor, entry_author=author) is expected


def test_declaring_is_for_declarers_and_admins_or_every_member_when_no_declarers_are_set() -> None:
    assert (
        allowed(Action.DECLARE, DECLARER)
        and allowed(Action.DECLARE, IN_DECLARER_GROUP)
        and allowed(Action.DECLARE, ADMIN)
    )
    assert not allowed(Action.DECLARE, MEMBER)
    assert allowed(Action.DECLARE, MEMBER, NOBODY_CONFIGURED), "as before roles were written down"
    assert not allowed(Action.DECLARE, GUEST, NOBODY_CONFIGURED)


@pytest.mark.parametrize(
    ("actor", "expected"),
    [(Actor("UALICE"), True), (Actor("UTEAMLEAD"), True), (DECLARER, True), (ADMIN, True), (MEMBER, False)],
)
def test_overriding_on_call_is_for_the_rotation_its_leads_declarers_and_admins(actor: Actor, expected: bool) -> None:
    assert allowed(Action.OVERRIDE_ONCALL, actor) is expected


def test_a_member_of_one_rotation_may_not_override_another() -> None:
    other = RotationRoles("data", members=frozenset({"UCAROL"}))
    assert not allowed(Action.OVERRIDE_ONCALL, Actor("UALICE"), rotation=other)


@pytest.mark.parametrize("action", [Action.POST_REPORT, Action.CHANGE_SETTINGS])
def test_posting_the_report_and_settings_are_for_declarers_and_admins(action: Action) -> None:
    assert allowed(action, DECLARER) and allowed(action, IN_DECLARER_GROUP) and allowed(action, ADMIN)
    assert not allowed(action, MEMBER) and not allowed(action, Actor("UOWNER"))
    assert not allowed(action, MEMBER, NOBODY_CONFIGURED), "no declarers set: admins only"
    assert allowed(action, ADMIN, NOBODY_CONFIGURED)


def test_a_refusal_is_one_line_naming_who_may() -> None:
    with pytest.raises(NotPermitted) as resolve:
        require(Action.RESOLVE, MEMBER, DECLARERS, incident=INCIDENT)
    assert str(resolve.value) == (
        "Only the owner, lead or reporter of INC-7 (<@UOWNER>, <@ULEAD>, <@UREPORTER>), the on-call engineer paged "
        "(<@UONCALL>), an incident-management declarer (<@UDECLARER>, <!subteam^SDECLARERS>) or a workspace admin may "
        "resolve or close INC-7. Ask one of them."
    )
    with pytest.raises(NotPermitted) as correct:
        require(Action.CORRECT_AUDIT, MEMBER, NOBODY_CONFIGURED, incident=INCIDENT, entry_author="bot")
    assert str(correct.value) == (
        "Only the owner or lead of INC-7 (<@UOWNER>, <@ULEAD>) or a workspace admin may correct the audit trail of "
        "INC-7. Ask one of them."
    )
    with pytest.raises(NotPermitted) as override:
        require(Action.OVERRIDE_ONCALL, MEMBER, NOBODY_CONFIGURED, rotation=RotationRoles("<!here> & co"))
    assert str(override.value) == (
        "Only the members and leads of the &lt;!here&gt; &amp; co rotation or a workspace admin may override on-call "
        "for the &lt;!here&gt; &amp; co rotation. Ask one of them."
    )
    with pytest.raises(NotPermitted) as declare:
        require(Action.DECLARE, MEMBER, DECLARERS, incident=INCIDENT)
    assert str(declare.value) == (
        "Only an incident-management declarer (<@UDECLARER>, <!subteam^SDECLARERS>) or a workspace admin may start "
        "incident management or assign its incident lead. Ask one of them."
    )
    with pytest.raises(NotPermitted) as view:
        require(Action.VIEW, GUEST, DECLARERS)
    assert str(view.value) == (
        "Only full members of this workspace (not guests or people from other organisations) may see incidents, "
        "reports and rotations. Ask one of them."
    )
    for refusal in (resolve, correct, override, declare, view):
        assert "\n" not in str(refusal.value) and len(str(refusal.value)) <= 300  # fits a modal's field error


def test_require_lets_the_allowed_through() -> None:
    require(Action.RESOLVE, Actor("UOWNER"), DECLARERS, incident=INCIDENT)
    require(Action.OVERRIDE_ONCALL, Actor("UTEAMLEAD"), DECLARERS, rotation=ROTATION)


@pytest.mark.parametrize(
    ("channel", "refused"),
    [
        (ChannelFacts(is_channel=True, shared=False, outsiders=0), None),
        (ChannelFacts(is_channel=False, shared=False, outsiders=0), "not in a direct message"),
        (ChannelFacts(is_channel=True, shared=True, outsiders=0), "shared with another organisation"),
        (ChannelFacts(is_channel=True, shared=False, outsiders=1), "has guests"),
        (ChannelFacts(is_channel=True, shared=False, outsiders=0, too_big_to_check=True), "too many members"),
    ],
)
def test_the_report_is_posted_only_in_channels_of_full_members(channel: ChannelFacts, refused: str | None) -> None:
    answer = report_channel_refusal(channel)
    assert (answer is None) if refused is None else (answer is not None and refused in answer)
