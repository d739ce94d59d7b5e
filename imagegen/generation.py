"""What a generation is asked for and what it gives back: plain data, shared by the pipeline and the edge."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from imagegen.client_keys import Caller
from imagegen.client_limits import Admission
from imagegen.costs import NOT_ASKED, Cost, OptimizerUsage
from imagegen.styles import Style
from proxy.models import StoredImage
from proxy.services import PreparedImage
from vendors.adapters.base import InputImage
from vendors.selectors import ModelRoute

Progress = Callable[[str], None]

CACHE_NOTE = "From the image cache: the same request was answered before; no vendor was called and it cost nothing."


def _no_progress(step: str) -> None:
    pass


class Sized(Protocol):
    width: int
    height: int


def distinct_sizes(images: Iterable[Sized]) -> list[str]:
    """The pixel sizes (WxH) of stored or prepared images, in order, without repeats."""
    return list(dict.fromkeys(f"{image.width}x{image.height}" for image in images))


@dataclass(frozen=True)
class GenerationRequest:
    route: ModelRoute  # the model asked for, resolved at the edge, with its fallback chain
    idea: str
    caller: Caller
    size: str | None = None
    n: int = 1
    quality: str | None = None
    style: str | None = None  # OpenAI Images' vivid / natural, passed on as it is
    preset: Style | None = None  # a style preset (imagegen.styles)
    optimizer_mode: str | None = None  # the client's prompt_optimizer; None: the operator's mode
    end_user: str = ""
    endpoint: str = "chat"  # for the ledger: chat, chat.stream, images or images.edits
    images: tuple[InputImage, ...] = ()  # the client's input images, verified (imagegen.input_images)
    mask: InputImage | None = None
    # Called with short steps ("optimizing the prompt", ...) for streaming clients to show.
    progress: Progress = field(default=_no_progress, compare=False)
    # What the client key's limits reserved for this request; released when the generation ends.
    admission: Admission | None = field(default=None, compare=False)

    @property
    def model(self) -> str:
        return self.route.name

    @property
    def input_digests(self) -> list[str]:
        """The SHA-256 of each input image, then of the mask (as ``mask:<sha>``): what the caches key on."""
        digests = [hashlib.sha256(image.data).hexdigest() for image in self.images]
        if self.mask is not None:
            digests.append("mask:" + hashlib.sha256(self.mask.data).hexdigest())
        return digests


@dataclass
class GenerationOutcome:
    model: str  # the model that made the images: the one asked for, or a fallback
    requested_model: str
    vendor: str
    prompt: str
    optimized: bool
    requested_size: str  # what the request, the text or the model default asked for
    size: str  # what was sent to the vendor after the model's size rules
    size_note: str = ""  # why size differs from requested_size
    fallback_note: str = ""  # why another model made the images
    failures: list[str] = field(default_factory=list)  # images of n that could not be made
    prepared: list[PreparedImage] = field(default_factory=list)
    images: list[StoredImage] = field(default_factory=list)
    usage: OptimizerUsage = NOT_ASKED  # the optimizer LLM's tokens
    cost: Cost | None = None  # set once the images are stored and the ledger row completed
    from_cache: bool = False  # the images came from the image cache: no vendor call
    generation_id: int | None = None  # the ledger row, set with the cost

    @property
    def generated_sizes(self) -> list[str]:
        """The pixel sizes of the stored images, measured, in order and without repeats."""
        return distinct_sizes(self.images)

    @property
    def notes(self) -> list[str]:
        notes = [CACHE_NOTE] if self.from_cache else []
        notes += [note for note in (self.fallback_note, self.size_note) if note]
        if self.failures:
            made, asked = len(self.images), len(self.images) + len(self.failures)
            notes.append(f"{made} of {asked} images were generated; the rest failed: {'; '.join(self.failures)}")
        return notes
