"""The dock agent: uploads docked cameras' footage over HTTP and frees space for receipts.

It talks to the server only through the public API, as a real dock PC would.
"""

from custody.dock.agent import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CHUNK_SIZE, DockAgent, DockResult
from custody.dock.backoff import Backoff
from custody.dock.client import DockClient
from custody.dock.progress import Fate, Outcome

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_CHUNK_SIZE",
    "Backoff",
    "DockAgent",
    "DockClient",
    "DockResult",
    "Fate",
    "Outcome",
]
