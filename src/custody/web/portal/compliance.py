"""Supervision: the compliance page, its weekly chart (server-side SVG) and the sign-off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from custody.domain.access import SystemAction, may
from custody.domain.clock import parse_time
from custody.domain.principal import Principal
from custody.services.retention import compliance
from custody.services.retention.answers import WeekRate
from custody.web.deps import Permit, SystemDep, user_actor
from custody.web.guard import access
from custody.web.portal.pages import PortalRoute, local, redirect, render

router = APIRouter(route_class=PortalRoute, include_in_schema=False)
Reader = Annotated[Principal, Depends(Permit(SystemAction.VIEW_COMPLIANCE))]
Supervisor = Annotated[Principal, Depends(Permit(SystemAction.SIGN_OFF_FOOTAGE))]

CHART_WIDTH, CHART_HEIGHT, BAR = 640, 160, 22


@dataclass(frozen=True)
class Bars:
    """One week of the chart: two bars (categorised, reviewed) as shares of what was recorded."""

    x: float
    categorised: float  # bar heights, in chart units
    reviewed: float
    label: str
    title: str


def chart(weeks: list[WeekRate]) -> list[Bars]:
    step = CHART_WIDTH / max(len(weeks), 1)
    bars = []
    for i, week in enumerate(weeks):
        whole = max(week.recorded, 1)
        shares = (week.categorised / whole, week.reviewed / whole)
        start = local(parse_time(week.week_starting))
        bars.append(
            Bars(
                x=i * step + (step - 2 * BAR - 4) / 2,
                categorised=CHART_HEIGHT * shares[0],
                reviewed=CHART_HEIGHT * shares[1],
                label=f"{start.day} {start:%b}",
                title=(
                    f"Week of {start.day} {start:%b}: {week.recorded} recorded, "
                    f"{round(100 * shares[0]) if week.recorded else 0}% categorised, "
                    f"{round(100 * shares[1]) if week.recorded else 0}% reviewed or signed off"
                ),
            )
        )
    return bars


@router.get("/compliance", openapi_extra=access(SystemAction.VIEW_COMPLIANCE))
async def compliance_page(
    request: Request, system: SystemDep, user: Reader, team: str | None = Query(None)
) -> Response:
    figures = await run_in_threadpool(
        lambda: compliance.compliance(
            system, user, user_actor(request, user), team=(team or None) and team[:120]
        )
    )
    return render(
        request,
        "compliance.html",
        user,
        area="compliance",
        title="Compliance",
        figures=figures,
        bars=chart(figures.weeks),
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
        bar=BAR,
        may_sign_off=bool(may(user.viewer(), SystemAction.SIGN_OFF_FOOTAGE)),
    )


@router.post("/compliance/sign-off", openapi_extra=access(SystemAction.SIGN_OFF_FOOTAGE))
async def sign_off(request: Request, system: SystemDep, user: Supervisor) -> Response:
    done = await run_in_threadpool(compliance.sign_off, system, user, user_actor(request, user))
    left = (
        f" {done.doubtful_left} doubtful recording{'s are' if done.doubtful_left != 1 else ' is'}"
        " left for you to look at."
        if done.doubtful_left
        else ""
    )
    return redirect(
        request,
        "/compliance",
        flash=f"Signed off {done.signed_off} recording{'' if done.signed_off == 1 else 's'}."
        + left,
    )
