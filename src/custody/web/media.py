"""The answer that carries footage, the same for the API and the portal's player."""

from __future__ import annotations

import re

from fastapi.responses import StreamingResponse

from custody.domain.errors import InvalidInput
from custody.services.recordings.reading import MediaStream

RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def parse_range(header: str | None) -> tuple[int, int | None] | None:
    """One `bytes=start-end` range (a suffix `bytes=-N` as a negative start), or None."""
    if header is None:
        return None
    match = RANGE.match(header.strip())
    if match is None or (not match.group(1) and not match.group(2)):
        raise InvalidInput("Range must be a single 'bytes=start-end' range")
    if not match.group(1):
        # A suffix range (bytes=-N) is resolved against the size by the service.
        return (-int(match.group(2)), None)
    return (int(match.group(1)), int(match.group(2)) if match.group(2) else None)


def footage_answer(
    stream: MediaStream, recording_id: str, *, filename: str | None = None
) -> StreamingResponse:
    """Footage as the service opened it: a download as an attachment, playing inline.

    Playing is always a range answer (206 with Content-Range), so a player learns the size
    and asks for the next piece; nothing but a download is offered to be saved.
    """
    disposition = "attachment" if stream.download else "inline"
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(stream.end - stream.start),
        "Content-Disposition": f'{disposition}; filename="{filename or recording_id + ".mp4"}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    }
    status = 200
    if stream.partial:
        status = 206
        headers["Content-Range"] = f"bytes {stream.start}-{stream.end - 1}/{stream.size}"
    return StreamingResponse(
        stream.chunks, status_code=status, headers=headers, media_type=stream.content_type
    )
