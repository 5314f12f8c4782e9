"""The retention function, by property: what must never be deleted, what must always go,
and how categories combine. Hypothesis searches for the counter-example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.domain.access import AccessClass
from custody.domain.categories import (
    DEFAULT_CATEGORIES,
    NON_EVIDENTIAL,
    CategoryRule,
    access_class_of,
    check_rule,
)
from custody.domain.errors import InvalidInput
from custody.domain.retention import (
    PENDING_NOTICE,
    STATUTORY_LIMIT,
    SWEEP_MARGIN,
    CaseFact,
    HoldFact,
    HoldKind,
    RetentionFacts,
    brings_forward,
    days_left,
    decide_retention,
    notice_floor,
    planned_limit,
)

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
NEVER = datetime.max.replace(tzinfo=UTC)

times = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
)
offsets = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=4000))

non_evidential = st.builds(
    CategoryRule,
    name=st.sampled_from([NON_EVIDENTIAL, "Training", "Accidental"]),
    retention_days=st.just(31),
    review_days=st.none(),
    access_class=st.sampled_from(list(AccessClass)),
    evidential=st.just(False),
)
evidential = st.builds(
    CategoryRule,
    name=st.sampled_from(["Arrest", "Stop and search", "Use of force", "Road traffic", "X"]),
    retention_days=st.one_of(st.none(), st.integers(31, 36_600)),
    review_days=st.one_of(st.none(), st.integers(1, 3660)),
    access_class=st.sampled_from(list(AccessClass)),
    evidential=st.just(True),
)
any_category = st.one_of(non_evidential, evidential)


@st.composite
def closed_cases(draw: st.DrawFn, recorded_at: datetime) -> CaseFact:
    return CaseFact(
        case_id=draw(st.integers(1, 10_000)),
        reference=draw(st.text("ABC0123456789/", min_size=1, max_size=8)),
        closed_at=recorded_at + draw(offsets),
        disposal_days=draw(st.one_of(st.none(), st.integers(7, 4000))),
    )


@st.composite
def facts(draw: st.DrawFn, *, protected: bool | None = None) -> RetentionFacts:
    """Any facts; `protected` True forces a hold, open case or flag, False forbids them."""
    recorded_at = draw(times)
    holds: tuple[HoldFact, ...] = ()
    open_cases: tuple[CaseFact, ...] = ()
    flags = 0
    if protected is None or protected:
        holds = tuple(
            draw(
                st.lists(
                    st.builds(HoldFact, st.integers(1, 99), st.sampled_from(list(HoldKind))),
                    max_size=2,
                )
            )
        )
        open_cases = tuple(
            draw(st.lists(st.builds(CaseFact, st.integers(1, 99), st.just("OPEN/1")), max_size=2))
        )
        flags = draw(st.integers(0, 2))
        if protected and not (holds or open_cases or flags):
            which = draw(st.sampled_from(["hold", "case", "flag"]))
            if which == "hold":
                holds = (HoldFact(1, draw(st.sampled_from(list(HoldKind)))),)
            elif which == "case":
                open_cases = (CaseFact(1, "OPEN/1"),)
            else:
                flags = 1
    closed = tuple(draw(st.lists(closed_cases(recorded_at), max_size=2)))
    changed = recorded_at + draw(offsets)
    return RetentionFacts(
        recorded_at=recorded_at,
        categories=tuple(draw(st.lists(any_category, max_size=4))),
        evidence_flags=flags,
        cases=open_cases + closed,
        holds=holds,
        not_before=draw(st.one_of(st.none(), st.just(notice_floor(changed, recorded_at)))),
        last_reviewed_at=draw(st.one_of(st.none(), st.just(changed))),
    )


def _due(f: RetentionFacts) -> datetime:
    """The deletion date, with never as the far future (so dates compare)."""
    return decide_retention(f).delete_at or NEVER


@settings(max_examples=500)
@given(facts(protected=True))
def test_a_hold_an_open_case_or_an_evidence_flag_is_never_due(f: RetentionFacts) -> None:
    decision = decide_retention(f)
    assert decision.delete_at is None
    assert not decision.is_due(NEVER - timedelta(days=1))
    assert decision.rule.split(":")[0] in ("hold", "case", "evidence")


@st.composite
def plain_footage(draw: st.DrawFn) -> RetentionFacts:
    """Footage nobody has said is evidence: no category but non-evidential ones, no case, hold
    or flag; perhaps a change (in its first 31 days, as the sweep would have deleted it
    after) that brought its deletion forward."""
    recorded_at = draw(times)
    changed = recorded_at + draw(st.timedeltas(timedelta(0), STATUTORY_LIMIT - SWEEP_MARGIN))
    return RetentionFacts(
        recorded_at=recorded_at,
        categories=tuple(draw(st.lists(non_evidential, max_size=3))),
        not_before=draw(st.one_of(st.none(), st.just(notice_floor(changed, recorded_at)))),
    )


@settings(max_examples=500)
@given(plain_footage())
def test_uncategorised_or_non_evidential_footage_never_outlives_31_days(
    f: RetentionFacts,
) -> None:
    decision = decide_retention(f)
    assert decision.delete_at is not None
    # Due a whole sweep margin before the limit: 24 hourly sweeps may fail and it still goes.
    assert decision.delete_at <= f.recorded_at + STATUTORY_LIMIT - SWEEP_MARGIN
    assert decision.is_due(f.recorded_at + STATUTORY_LIMIT)
    assert decision.review_at is None


@settings(max_examples=500)
@given(times, st.lists(evidential, min_size=1, max_size=4), st.lists(non_evidential, max_size=2))
def test_the_longest_category_wins(
    recorded_at: datetime, kept: list[CategoryRule], plain: list[CategoryRule]
) -> None:
    decision = decide_retention(RetentionFacts(recorded_at, categories=tuple(kept + plain)))
    if any(c.retention_days is None for c in kept):
        assert decision.delete_at is None
        return
    longest = max(recorded_at + timedelta(days=c.retention_days or 0) for c in kept)
    assert decision.delete_at == max(longest, planned_limit(recorded_at))


@settings(max_examples=500)
@given(facts(), any_category)
def test_adding_a_category_never_shortens_retention(f: RetentionFacts, extra: CategoryRule) -> None:
    more = RetentionFacts(
        f.recorded_at,
        (*f.categories, extra),
        f.evidence_flags,
        f.cases,
        f.holds,
        f.not_before,
        f.last_reviewed_at,
    )
    assert _due(more) >= _due(f)


@given(facts(), st.randoms())
def test_the_order_of_the_facts_does_not_matter(f: RetentionFacts, rnd: object) -> None:
    shuffled_categories = list(f.categories)
    shuffled_cases = list(f.cases)
    rnd.shuffle(shuffled_categories)  # type: ignore[attr-defined]
    rnd.shuffle(shuffled_cases)  # type: ignore[attr-defined]
    other = RetentionFacts(
        f.recorded_at,
        tuple(shuffled_categories),
        f.evidence_flags,
        tuple(shuffled_cases),
        f.holds,
        f.not_before,
        f.last_reviewed_at,
    )
    assert decide_retention(other) == decide_retention(f)


@given(facts(protected=False))
def test_nothing_is_ever_due_before_the_31_day_rule(f: RetentionFacts) -> None:
    assert _due(f) >= planned_limit(f.recorded_at)


@given(times, offsets)
def test_a_change_never_brings_a_deletion_closer_than_the_notice_unless_the_limit_says(
    recorded_at: datetime, after: timedelta
) -> None:
    changed = recorded_at + after
    floor = notice_floor(changed, recorded_at)
    if changed <= planned_limit(recorded_at):
        assert floor == min(changed + PENDING_NOTICE, planned_limit(recorded_at))
    else:
        assert floor == changed + PENDING_NOTICE


@settings(max_examples=50)
@given(facts(protected=False))
def test_pending_is_the_week_before_the_due_date(f: RetentionFacts) -> None:
    decision = decide_retention(f)
    if decision.delete_at is None:
        return
    assert not decision.is_pending(decision.delete_at - PENDING_NOTICE - timedelta(seconds=1))
    assert decision.is_pending(decision.delete_at - PENDING_NOTICE)
    assert decision.is_pending(decision.delete_at)
    assert not decision.is_due(decision.delete_at - timedelta(seconds=1))
    assert decision.is_due(decision.delete_at)


def test_worked_examples() -> None:
    arrest = next(c for c in DEFAULT_CATEGORIES if c.name == "Arrest")
    use_of_force = next(c for c in DEFAULT_CATEGORIES if c.name == "Use of force")
    plain = next(c for c in DEFAULT_CATEGORIES if c.name == NON_EVIDENTIAL)
    nothing = decide_retention(RetentionFacts(EPOCH))
    assert nothing.delete_at == EPOCH + timedelta(days=30)
    assert nothing.rule == "uncategorised"
    assert decide_retention(RetentionFacts(EPOCH, (plain,))).rule == "category:Non-evidential"
    kept = decide_retention(RetentionFacts(EPOCH, (arrest, plain)))
    assert kept.delete_at == EPOCH + timedelta(days=7 * 365)
    assert kept.review_at == EPOCH + timedelta(days=2 * 365)
    assert decide_retention(RetentionFacts(EPOCH, (arrest, use_of_force))).delete_at is None
    # A case closed with 90 days' disposal keeps footage 90 days from its closure.
    closed = CaseFact(1, "CRIS/1", closed_at=EPOCH + timedelta(days=100), disposal_days=90)
    assert decide_retention(RetentionFacts(EPOCH, cases=(closed,))).delete_at == (
        EPOCH + timedelta(days=190)
    )
    # Declassified on day 40: gone seven days later, with notice, not at once.
    floor = notice_floor(EPOCH + timedelta(days=40), EPOCH)
    late = decide_retention(RetentionFacts(EPOCH, (plain,), not_before=floor))
    assert late.delete_at == EPOCH + timedelta(days=47)
    assert late.rule == "notice:category:Non-evidential"
    # On day 28 the limit wins over the notice.
    early = notice_floor(EPOCH + timedelta(days=28), EPOCH)
    assert decide_retention(RetentionFacts(EPOCH, (plain,), not_before=early)).delete_at == (
        EPOCH + timedelta(days=30)
    )


def test_brings_forward() -> None:
    assert brings_forward(None, EPOCH)
    assert brings_forward(EPOCH + timedelta(days=1), EPOCH)
    assert not brings_forward(EPOCH, EPOCH)
    assert not brings_forward(EPOCH, None)


def test_the_strictest_access_class_wins() -> None:
    assert access_class_of([]) is AccessClass.NORMAL
    assert access_class_of(["normal", "restricted"]) is AccessClass.RESTRICTED
    assert access_class_of(DEFAULT_CATEGORIES) is AccessClass.CONFIDENTIAL


@pytest.mark.parametrize(
    "rule",
    [
        CategoryRule("Training", 60, None, evidential=False),
        CategoryRule("Training", None, None, evidential=False),
        CategoryRule("Quick", 10, None),
        CategoryRule("", 100, None),
        CategoryRule("Bad\nname", 100, None),
        CategoryRule("Arrest", 100, 0),
        CategoryRule("Arrest", 10**7, None),
    ],
)
def test_categories_that_would_break_the_rules_are_refused(rule: CategoryRule) -> None:
    with pytest.raises(InvalidInput):
        check_rule(rule)


def test_the_defaults_are_valid_and_documented() -> None:
    for rule in DEFAULT_CATEGORIES:
        check_rule(rule)
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "retention.md").read_text()
    for rule in DEFAULT_CATEGORIES:
        assert rule.name in doc


def test_the_migration_seeds_the_domain_defaults() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[2] / "src/custody/db/migrations/versions/0001_initial_schema.py"
    spec = importlib.util.spec_from_file_location("initial_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    seeded = {row[0]: row for row in module.DEFAULT_CATEGORIES}
    assert set(seeded) == {c.name for c in DEFAULT_CATEGORIES}
    for rule in DEFAULT_CATEGORIES:
        _, retention, review, access, is_evidential, _, description = seeded[rule.name]
        assert (retention, review, access, is_evidential, description) == (
            rule.retention_days,
            rule.review_days,
            rule.access_class.value,
            rule.evidential,
            rule.description,
        )


def test_days_left_are_whole_days_never_negative_and_none_for_kept_footage() -> None:
    now = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
    assert days_left(None, now) is None
    assert days_left(now + timedelta(days=3, hours=23), now) == 3
    assert days_left(now + timedelta(hours=5), now) == 0
    assert days_left(now - timedelta(days=2), now) == 0
