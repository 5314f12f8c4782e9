"""Frames for simulated footage: a moving street scene with the camera's burned-in clock.

Body-worn cameras stamp every frame with the wall-clock time and the serial; the
simulator does the same, so a viewer (and a test) can tell which second a frame is.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

from custody.domain.clock import as_utc

OVERLAY_HEIGHT = 56
TEXT_COLOUR = (255, 255, 255)
RECORD_RED = (220, 30, 30)


class SceneRenderer:
    """Draws frame i of a recording; the motion loops every `loop_frames` frames."""

    def __init__(
        self,
        *,
        width: int,
        height: int,
        fps: int,
        loop_frames: int,
        started_at: datetime,
        serial: str,
    ) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self.loop_frames = max(1, loop_frames)
        self.started_at = as_utc(started_at)
        self.serial = serial
        self._font = ImageFont.load_default(size=20)
        self._street = _street(width, height)
        self._overlay_second = -1
        self._overlay = Image.new("RGB", (width, OVERLAY_HEIGHT))

    def clock_text(self, index: int) -> str:
        """The wall-clock time stamped on frame `index`, to the whole second."""
        at = self.started_at + timedelta(seconds=index / self.fps)
        return at.strftime("%Y-%m-%d %H:%M:%S UTC")

    def frame(self, index: int) -> Image.Image:
        """The RGB picture of frame `index`."""
        phase = (index % self.loop_frames) / self.loop_frames
        # The street scrolls one full width per loop, so the loop's end meets its start.
        offset = int(phase * self.width)
        picture = self._street.crop((offset, 0, offset + self.width, self.height))
        draw = ImageDraw.Draw(picture)
        x = int(self.width / 2 + self.width / 3 * math.sin(2 * math.pi * phase))
        y = int(self.height * 0.62 + self.height / 8 * math.sin(4 * math.pi * phase))
        radius = self.height // 10
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=(240, 200, 40))
        picture.paste(self._overlay_for(index), (0, 0))
        return picture

    def _overlay_for(self, index: int) -> Image.Image:
        # Text changes once a second: draw it once a second, not 25 times.
        second = int((self.started_at.microsecond / 1e6) + index / self.fps)
        if second != self._overlay_second:
            self._overlay_second = second
            self._overlay = Image.new("RGB", (self.width, OVERLAY_HEIGHT), (0, 0, 0))
            draw = ImageDraw.Draw(self._overlay)
            draw.ellipse((8, 10, 22, 24), fill=RECORD_RED)
            draw.text((30, 4), self.clock_text(index), fill=TEXT_COLOUR, font=self._font)
            draw.text((30, 29), self.serial, fill=TEXT_COLOUR, font=self._font)
        return self._overlay


def _street(width: int, height: int) -> Image.Image:
    """A sky, a row of buildings and a pavement, twice as wide as a frame and periodic."""
    street = Image.new("RGB", (2 * width, height))
    draw = ImageDraw.Draw(street)
    horizon = int(height * 0.7)
    for y in range(horizon):
        shade = int(90 + 120 * y / horizon)
        draw.line([(0, y), (2 * width, y)], fill=(shade // 2, shade // 2 + 30, shade))
    draw.rectangle((0, horizon, 2 * width, height), fill=(95, 95, 100))
    colours = [(150, 70, 50), (120, 110, 90), (170, 150, 120), (90, 60, 50), (140, 130, 140)]
    bays = 8
    for bay in range(bays):
        left = bay * width // bays
        top = int(height * (0.25 + 0.2 * ((bay * 37) % 5) / 5))
        for repeat in (0, width):
            box = (left + repeat + 2, top, left + repeat + width // bays - 2, horizon)
            draw.rectangle(box, fill=colours[bay % len(colours)])
            for row in range(top + 12, horizon - 16, 24):
                for col in range(box[0] + 8, box[2] - 14, 20):
                    draw.rectangle((col, row, col + 10, row + 12), fill=(230, 220, 150))
    return street
