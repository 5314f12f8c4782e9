"""Reading what people type into the portal's forms, with errors they can act on.

Each reader returns the value or records a sentence against the field's name, so a
form can be shown again with every mistake beside its field at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from custody.domain.clock import EARLIEST, LATEST, within_range
from custody.web.portal.pages import DISPLAY_ZONE, ZONE_NAME


@dataclass
class Form:
    """The values of a submitted form, as typed, and what is wrong with them."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, *, required: str | None = None, limit: int = 1000) -> str | None:
        """A trimmed text field; `required` is the sentence to show when it is empty."""
        value = self.values.get(name, "").strip()
        if not value:
            if required:
                self.errors[name] = required
            return None
        if len(value) > limit:
            self.errors[name] = f"Use at most {limit} characters."
            return None
        if "\x00" in value:
            # No database stores it (PostgreSQL refuses it): refused here, beside the field.
            self.errors[name] = "Remove the NUL character: it cannot be kept."
            return None
        return value

    def number(
        self, name: str, *, low: float, high: float, what: str, whole: bool = True
    ) -> float | None:
        """A number between `low` and `high`, or None when the field is empty."""
        value = self.values.get(name, "").strip()
        if not value:
            return None
        try:
            number = int(value) if whole else float(value)
        except ValueError:
            self.errors[name] = f"Enter {what} as a {'whole ' if whole else ''}number."
            return None
        if not low <= number <= high:
            self.errors[name] = f"Enter {what} from {low:g} to {high:g}."
            return None
        return number

    def moment(self, name: str, what: str) -> datetime | None:
        """A date and time typed in local time (a datetime-local field), as UTC."""
        value = self.values.get(name, "").strip()
        if not value:
            return None
        try:
            typed = datetime.fromisoformat(value)
        except ValueError:
            self.errors[name] = f"Enter {what} as a date and time, like 2026-10-01 09:30."
            return None
        if typed.tzinfo is None:
            typed = typed.replace(tzinfo=DISPLAY_ZONE)
        if not within_range(typed):
            # Year 1 at +14:00 is no time in UTC at all: the search would fail on it.
            self.errors[name] = f"Enter {what} from {EARLIEST.year} to {LATEST.year}."
            return None
        return typed

    def choice(self, name: str, options: dict[str, str], what: str) -> str | None:
        """One of `options` (value → label), or None when nothing was chosen."""
        value = self.values.get(name, "").strip()
        if not value:
            return None
        if value not in options:
            self.errors[name] = f"Choose {what} from the list."
            return None
        return value

    @property
    def ok(self) -> bool:
        return not self.errors


LOCAL_HINT = f"Times are {ZONE_NAME}."
