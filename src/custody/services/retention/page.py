"""The retention page, read in one transaction: what is pending deletion (`review.pending`,
audited as it audits it), what the person may do to each recording listed
(`search.actions_on_each`) and the categories they may restore one under
(`categories.categories_to_give`)."""

from __future__ import annotations

from dataclasses import dataclass

from custody.domain.access import Action
from custody.domain.actor import Actor
from custody.domain.principal import Principal
from custody.services.answers import Page, Paged
from custody.services.evidence import categories
from custody.services.evidence.answers import CategoryView
from custody.services.recordings import search
from custody.services.retention import review
from custody.services.retention.answers import RetentionEntry
from custody.services.system import System


@dataclass(frozen=True)
class PendingPage:
    answer: Paged[RetentionEntry]
    # What the person may do to each listed recording they may see (the rest left out).
    actions: dict[str, frozenset[Action]]
    categories: list[CategoryView]


def pending_page(
    system: System,
    principal: Principal,
    actor: Actor,
    *,
    limit: int,
    offset: int = 0,
    cursor: str | None = None,
) -> PendingPage:
    """A page of the pending list with what the page offers beside it; the list's reading
    is audited in the same transaction."""
    page = Page(offset, limit, after=cursor)
    with system.unit_of_work() as uow:
        answer = review.pending_in(uow, principal, actor, page)
        shown = PendingPage(
            answer,
            search.actions_on_each_in(uow, principal, [item.id for item in answer.items]),
            categories.categories_to_give_in(uow, principal),
        )
        uow.commit()
        return shown
