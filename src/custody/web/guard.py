"""Every route declares the access rule that guards it; a test refuses routes without one.

The rule is enforced where the decision needs data (the services call
`custody.domain.access`), and the declaration here says which rule that is, so a
reviewer and the route-coverage test can see that no endpoint ships unguarded.
"""

from __future__ import annotations

from typing import Any

ACCESS_KEY = "x-custody-access"
# Rules that need no signed-in person.
PUBLIC = "public"
# Dock tokens: upload and report, nothing else.
DOCK = "dock"


def access(rule: str) -> dict[str, Any]:
    """`openapi_extra` for a route: `@router.get(..., openapi_extra=access("recording:view"))`."""
    return {ACCESS_KEY: rule}
