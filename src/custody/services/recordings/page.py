"""Pages read in one transaction each. A recording's: its metadata and lifecycle, its card,
the categories and open cases the person could give it, its clips and its transcript. An
officer's footage: their dockings and the categories they may give.

Each part is what its own use case answers (`reading.get_recording`, `search.cards`,
`categories.categories_to_give`, `cases.list_cases`, `clips.list_clips`,
`transcripts.get_transcript`), each audited as that use case audits it; read together
the recording passes the door once and the page is one round of statements, not seven
transactions each opening the recording again.
"""

from __future__ import annotations

from dataclasses import dataclass

from custody.domain.access import Action, SystemAction, may
from custody.domain.actor import Actor
from custody.domain.errors import BadPage, InvalidInput
from custody.domain.principal import Principal
from custody.services.answers import Page
from custody.services.disclosure import clips
from custody.services.disclosure.answers import ClipView
from custody.services.evidence import cases, categories
from custody.services.evidence.answers import CaseView, CategoryView
from custody.services.recordings import reading, search
from custody.services.recordings.answers import RecordingView, TombstoneView
from custody.services.speech import transcripts
from custody.services.speech.answers import TranscriptView
from custody.services.system import System


@dataclass(frozen=True)
class RecordingPage:
    """All a live recording's page shows, as this person may see it."""

    detail: RecordingView
    card: search.Card
    # The categories the person may give it, and the open cases (a page's worth, newest
    # first) they could add it to that it is not in already: none if they may not.
    categories: list[CategoryView]
    open_cases: list[CaseView]
    clips: list[ClipView]
    # What was said, for those who may play the footage (its reading audited); None if
    # there is no transcript or they may not hear it.
    transcript: TranscriptView | None


def recording_page(
    system: System, principal: Principal, recording_id: str, actor: Actor
) -> RecordingPage | TombstoneView:
    """A recording's page (a deleted one's tombstone); the view, and the transcript's
    reading where shown, are audited in the same transaction."""
    with system.unit_of_work() as uow:
        viewed = reading.viewed(uow, principal, recording_id, actor)
        detail, sight = viewed.view, viewed.sight
        if isinstance(detail, TombstoneView):
            uow.commit()
            return detail
        # Its retention facts as read for the view: the card decides from the same.
        known = {recording_id: viewed.facts} if viewed.facts is not None else None
        card = search.cards_in(uow, principal, [recording_id], known)[0]
        open_cases: list[CaseView] = []
        if card.may(Action.ADD_TO_CASE) and may(sight.viewer, SystemAction.VIEW_CASES):
            # The newest open cases, a page's worth: one further back is added from its page.
            listed = cases.list_cases_in(
                uow, principal, actor, status="open", page=cases.OPEN_CASES_PAGE, counted=False
            )
            already = {case.id for case in detail.cases or []}
            open_cases = [case for case in listed.items if case.id not in already]
        page = RecordingPage(
            detail=detail,
            card=card,
            categories=categories.categories_to_give_in(uow, principal),
            open_cases=open_cases,
            clips=[clip for clip in clips.clips_seen(uow, sight, actor) if clip.deleted_at is None],
            transcript=(
                transcripts.current_transcript_heard(uow, sight, actor)
                if card.may(Action.STREAM)
                else None
            ),
        )
        uow.commit()
        return page


@dataclass(frozen=True)
class FootagePage:
    """An officer's (or their team's) footage by docking, and the categories they may give
    it in bulk."""

    footage: search.Footage
    categories: list[CategoryView]


def footage_page(system: System, principal: Principal, *, team: bool, page: Page) -> FootagePage:
    """`search.my_footage` and `categories.categories_to_give`, in one transaction."""
    with system.unit_of_work() as uow:
        return FootagePage(
            search.my_footage_in(uow, principal, team=team, page=page),
            categories.categories_to_give_in(uow, principal),
        )


@dataclass(frozen=True)
class SearchPage:
    """A search's results (none where it was refused as asked: `refused` says why), and the
    categories the person may give what it finds."""

    results: search.Results | None
    refused: InvalidInput | None
    categories: list[CategoryView]


def search_page(
    system: System, principal: Principal, query: search.Search, actor: Actor, *, page: Page
) -> SearchPage:
    """`search.search` and `categories.categories_to_give`, in one transaction. A search
    refused for what it asks (an unknown case, a time range backwards) still gives the
    categories, as the page shows its form again; a page's address refused (`BadPage`) is
    raised."""
    with system.unit_of_work() as uow:
        results: search.Results | None = None
        refused: InvalidInput | None = None
        try:
            results = search.search_in(uow, principal, query, actor, page=page)
        except BadPage:
            raise
        except InvalidInput as exc:
            refused = exc
        shown = SearchPage(results, refused, categories.categories_to_give_in(uow, principal))
        uow.commit()
        return shown
