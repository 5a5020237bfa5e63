"""Images and videos per request, learned from the service's refusals the way rows per request are.

The catalog's ``max_images`` / ``max_videos`` are the first guess; limits move over time and differ between pages
(qwen3-vl-embedding: 1, 5 or 10 images depending on the page, see ``catalog``). When the service refuses a request
for holding too many images or videos and names the number, the multimodal engine lowers its limit to that number,
re-packs the refused request and remembers the limit for later calls (as ``BaseEmbedder._resplit`` does for the
"batch size is invalid, it should not be larger than N" refusal of content elements).

Wording: the public Model Studio material shows the element-count refusal ("batch size is invalid, it should not
be larger than N.: input.contents"), which the local service reproduces; it shows no wording for image or video
counts, so any refusal that names images or videos with "at most N", "not be larger than N", "exceeds N" or
"maximum of N" is read (one element's ``multi_images`` cap is not a per-request limit and is not learned, nor is
a number with a unit: "the image size exceeds the maximum size of 3 MB" limits one image, not a request).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from .errors import InvalidRequestError

__all__ = ["media_limit", "MediaLimits"]

logger = logging.getLogger("dashscope_embed")

_MEDIA_LIMIT = re.compile(
    r"\b(image|video)s?\b.*?(?:at most|not be larger than|larger than|exceed(?:s|ed)?|maximum(?: of)?)\D{0,20}(\d+)"
    # a number with a unit is a size, resolution, length or rate limit of one image or video, not a count per
    # request ("the image size exceeds the maximum size of 3 MB", "at most 4096 pixels", "2 fps")
    r"(?!\d|\.\d|\s*(?:[kmgt]i?b\b|bytes?\b|pixels?\b|px\b|seconds?\b|s\b|secs?\b|min(?:utes?)?\b|fps\b|frames?\b"
    r"|tokens?\b|%|x\s*\d|\*\s*\d))",
    re.I | re.S,
)


def media_limit(message: str) -> tuple[str, int] | None:
    """``("images" | "videos", N)`` when ``message`` refuses a request for more images or videos than N, else
    ``None``."""
    if "multi_images" in message:
        return None
    match = _MEDIA_LIMIT.search(message)
    if match is None:
        return None
    return match.group(1).lower() + "s", int(match.group(2))


class MediaLimits:
    """Mixin of ``MultimodalEmbedder``: the images/videos limits in force and how they are learned.

    Attributes:
        max_images / max_videos: per request, the catalog's or less once the service named a smaller number.
    """

    #: What a pickled copy keeps (``RunnerLifecycle`` pickling): the rows, images and videos per request learned.
    _LEARNED: tuple[str, ...] = ("_max_rows", "_max_images", "_max_videos")
    spec: Any
    model: str
    _lock: Any
    _max_rows: int

    def _init_media_limits(self) -> None:
        self._max_images: int = self.spec.max_images
        self._max_videos: int = self.spec.max_videos

    @property
    def max_images(self) -> int:
        """Images per request now in force."""
        return self._max_images

    @property
    def max_videos(self) -> int:
        """Videos per request now in force."""
        return self._max_videos

    def _split(self, group: Sequence[Any], limit: int) -> list[Sequence[Any]]:
        raise NotImplementedError

    def _learn_limit(self, exc: InvalidRequestError, group: Sequence[Any]) -> list[Sequence[Any]] | None:
        found = media_limit(exc.message)
        if found is None or found[1] < 1:
            return None
        kind, limit = found
        with self._lock:
            if kind == "images":
                self._max_images = min(self._max_images, limit)
            else:
                self._max_videos = min(self._max_videos, limit)
        parts = self._split(group, self._max_rows)
        if len(parts) < 2:
            return None
        logger.warning("%s accepts at most %d %s per request; re-splitting", self.model, limit, kind)
        return parts

    def _learned_parts(self, group: Sequence[Any]) -> list[Sequence[Any]] | None:
        # A limit learned after this group was planned: re-pack it now rather than be refused again.
        images = sum(u.images for u in group)
        videos = sum(u.videos for u in group)
        elements = sum(u.elements for u in group)
        if elements > self._max_rows or images > self._max_images or videos > self._max_videos:
            parts = self._split(group, self._max_rows)
            if len(parts) > 1:
                return parts
        return None
