"""`custody categories …`: the categories officers choose from, and their retention."""

from __future__ import annotations

import typer
from rich.table import Table

from custody.cli.common import AsUser, acting, err, out, refusals, system
from custody.domain.categories import CategoryRule, parse_access_class
from custody.services.evidence import categories, category_preview
from custody.services.evidence.categories import CategoryChanges

app = typer.Typer(
    help="Categories: retention, access class and review period.", no_args_is_help=True
)


def _days(value: str) -> int | None:
    """A number of days, or `manual` for "until manually deleted"."""
    if value.strip().lower() in ("manual", "none", "never"):
        return None
    try:
        return int(value)
    except ValueError:
        raise typer.BadParameter("a number of days, or 'manual'") from None


@app.command("list")
@refusals
def list_categories(
    ctx: typer.Context, retired: bool = typer.Option(False, help="Include retired categories.")
) -> None:
    """Every category and its rule."""
    table = Table(title="Categories")
    for column in ("id", "name", "retention", "review", "access", "evidential", "notes"):
        table.add_column(column)
    for c in categories.list_categories(system(ctx), include_retired=retired):
        notes = []
        if not c.assignable:
            notes.append("not assignable")
        if c.retired:
            notes.append("retired")
        table.add_row(
            str(c.id),
            c.name,
            c.retention,
            f"{c.review_days} days" if c.review_days else "-",
            c.access_class,
            "yes" if c.evidential else "no",
            ", ".join(notes),
        )
    out.print(table)


@app.command("add")
@refusals
def add(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    retention_days: str = typer.Option(..., "--retention", help="Days from recording, or manual."),
    review_days: int | None = typer.Option(None, "--review", help="Review period in days."),
    access_class: str = typer.Option(
        "normal", "--access", help="normal, restricted, confidential."
    ),
    non_evidential: bool = typer.Option(False, help="Never kept past 31 days."),
    description: str = typer.Option("", help="What it is for."),
    as_user: AsUser = "admin",
) -> None:
    """Add a category."""
    built, principal, actor = acting(ctx, as_user)
    rule = CategoryRule(
        name=name,
        retention_days=_days(retention_days),
        review_days=review_days,
        access_class=parse_access_class(access_class),
        evidential=not non_evidential,
        description=description,
    )
    created = categories.create_category(built, principal, rule, actor)
    err.print(f"category {created.name} added (id {created.id}): {created.retention}")


@app.command("set")
@refusals
def set_rule(
    ctx: typer.Context,
    category_id: int = typer.Argument(...),
    name: str | None = typer.Option(None),
    retention_days: str | None = typer.Option(None, "--retention", help="Days, or manual."),
    review_days: int | None = typer.Option(None, "--review", help="Review period in days."),
    access_class: str | None = typer.Option(None, "--access"),
    description: str | None = typer.Option(None),
    retire: bool | None = typer.Option(None, "--retire/--unretire", help="Retire or bring back."),
    reason: str | None = typer.Option(None, help="Why (kept in the audit trail)."),
    preview: bool = typer.Option(
        False, "--preview", help="Say what it would do to the recordings' dates; save nothing."
    ),
    as_user: AsUser = "admin",
) -> None:
    """Change a category; every recording in it is decided again at once."""
    built, principal, actor = acting(ctx, as_user)
    changes: CategoryChanges = {}
    if name is not None:
        changes["name"] = name
    if retention_days is not None:
        changes["retention_days"] = _days(retention_days)
    if review_days is not None:
        changes["review_days"] = review_days
    if access_class is not None:
        changes["access_class"] = access_class
    if description is not None:
        changes["description"] = description
    if retire is not None:
        changes["retired"] = retire
    if not changes:
        raise typer.BadParameter("nothing to change")
    if preview:
        found = category_preview.preview_category_change(
            built, principal, category_id, changes, actor
        )
        counted = f"{found.recordings}{'' if found.recordings_exact else '+'} recording(s)"
        if not found.recordings_exact:
            counted += f", the first {found.examined} examined"
        out.print(
            f"{found.category.name}: {counted}; {found.due_now} deleted within 7 days, "
            f"{found.earlier} earlier, {found.later} later, {found.unchanged} unchanged "
            f"({found.kept_regardless} kept by a hold, an open case or an evidence flag); "
            "nothing saved"
        )
        return
    answer = categories.update_category(built, principal, category_id, changes, reason, actor)
    err.print(
        f"category {answer.name}: {answer.retention}; "
        f"{answer.recordings_decided_again} recording(s) decided again, "
        f"{answer.dates_moved} date(s) moved"
    )
