"""One generation, end to end: route, size, optimize, generate with rotating keys, store, record.

The ``vendors`` and ``proxy`` apps do not know each other; this module joins them. It speaks no
HTTP of its own: views hand it a ``GenerationRequest`` and turn its outcome into a response.
Failures leave the pipeline as ``ApiError`` in the OpenAI error shape.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from django.db import transaction

from core.db import run_db
from core.http import get_client
from imagegen import prompts, sizes
from imagegen.api.auth import Caller
from imagegen.api.errors import ApiError
from imagegen.models import Generation
from proxy.models import StoredImage
from proxy.services import ImageFetchFailed, PreparedImage, prepare_image, record_images
from vendors import errors as upstream
from vendors.adapters.base import ImageRequest, UpstreamImage
from vendors.selectors import ModelRoute, routing_table
from vendors.services import call_with_keys
from vendors.size_rules import NegotiatedSize, negotiate

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _no_progress(step: str) -> None:
    pass


def distinct_sizes(images) -> list[str]:
    """The pixel sizes (WxH) of stored or prepared images, in order, without repeats."""
    return list(dict.fromkeys(f"{image.width}x{image.height}" for image in images))


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    idea: str
    caller: Caller
    size: str | None = None
    n: int = 1
    quality: str | None = None
    style: str | None = None
    end_user: str = ""
    endpoint: str = "chat"  # for the ledger: chat, chat.stream or images
    # Called with short steps ("optimizing the prompt", ...) for streaming clients to show.
    progress: Progress = field(default=_no_progress, compare=False)


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

    @property
    def generated_sizes(self) -> list[str]:
        """The pixel sizes of the stored images, measured, in order and without repeats."""
        return distinct_sizes(self.images)

    @property
    def notes(self) -> list[str]:
        notes = [note for note in (self.fallback_note, self.size_note) if note]
        if self.failures:
            made, asked = len(self.images), len(self.images) + len(self.failures)
            notes.append(f"{made} of {asked} images were generated; the rest failed: {'; '.join(self.failures)}")
        return notes


@dataclass
class _Ledger:
    """What the Generation row will say; filled in as the request goes."""

    request: GenerationRequest
    started: float = field(default_factory=time.monotonic)
    route: ModelRoute | None = None
    key_labels: list[str] = field(default_factory=list)
    requested_size: str = ""
    size: str = ""
    prompt: str = ""
    notes: list[str] = field(default_factory=list)


async def generate(request: GenerationRequest) -> GenerationOutcome:
    ledger = _Ledger(request=request)
    try:
        outcome = await _generate(request, ledger)
    except ApiError as exc:
        await run_db(_record, ledger, status=Generation.Status.FAILED, error=exc)
        raise
    except asyncio.CancelledError:
        # The client went away (Django cancels the view); the ledger still says so. Shielded:
        # the task is being cancelled, and the row must be written all the same.
        gone = ApiError(499, "The client closed the connection before the answer.", code="client_closed_request")
        await asyncio.shield(run_db(_record, ledger, status=Generation.Status.FAILED, error=gone))
        raise
    # One write transaction for the images and the ledger row: the answer waits on it.
    ledger.notes = [note for note in (outcome.fallback_note, outcome.size_note) if note] + outcome.failures
    outcome.images = await run_db(_record, ledger, status=Generation.Status.SUCCESS, prepared=outcome.prepared)
    return outcome


async def find_route(model: str) -> ModelRoute:
    """The route of a public model name, or the 404 that names the models there are."""
    table = await routing_table()
    route = table.models.get(model)
    if route is None:
        available = ", ".join(table.model_names()) or "none are configured"
        raise ApiError(
            404,
            f"The model '{model}' does not exist. Available models: {available}.",
            code="model_not_found",
            param="model",
        )
    return route


async def _generate(request: GenerationRequest, ledger: _Ledger) -> GenerationOutcome:
    route = await find_route(request.model)
    table = await routing_table()
    ledger.route = route

    choice = sizes.choose_size(request.idea, requested=request.size, model_default=route.default_size)
    ledger.requested_size = ledger.size = choice.size
    if not choice.prompt:
        raise ApiError(400, "The prompt is empty once the size or ratio is taken out.", code="empty_prompt")

    if await prompts.optimizer_enabled():
        request.progress("Optimizing the prompt.")
    optimized = await prompts.optimize(choice.prompt, table)
    ledger.prompt = optimized.prompt

    # The asked-for model first, then its fallback chain while the failure allows it.
    chain = [route, *(table.models[name] for name in route.fallbacks if name in table.models)]
    made = await _generate_along(chain, request, choice, optimized.prompt, ledger)

    count = len(made.images)
    request.progress("Storing the image." if count == 1 else "Storing the images.")
    prepared = await _prepare_all(made.images, made.model)
    return GenerationOutcome(
        model=made.model.name,
        requested_model=route.name,
        vendor=made.model.vendor.name,
        prompt=optimized.prompt,
        optimized=optimized.optimized,
        requested_size=choice.size,
        size=ledger.size,
        size_note=_size_note(choice.size, made.fitted, made.model.name, distinct_sizes(prepared)),
        fallback_note=made.fallback_note,
        failures=made.failures,
        prepared=prepared,
    )


@dataclass
class _Made:
    model: ModelRoute
    fitted: NegotiatedSize
    images: list[UpstreamImage]
    failures: list[str]
    fallback_note: str


async def _generate_along(
    chain: list[ModelRoute], request: GenerationRequest, choice: sizes.SizeChoice, prompt: str, ledger: _Ledger
) -> _Made:
    """The images from the first model of ``chain`` that can make them, each fitting the size to its own rules."""
    route, fallback_note = chain[0], ""
    for position, candidate in enumerate(chain):
        ledger.route = candidate
        fitted = negotiate(choice.width, choice.height, candidate.capability)
        ledger.size = fitted.size
        image_request = ImageRequest(
            prompt=prompt,
            model=candidate.upstream_name,
            width=fitted.width,
            height=fitted.height,
            n=request.n,
            ratio=fitted.ratio,
            size_format=candidate.size_format,
            quality=request.quality,
            style=request.style,
        )
        request.progress(f"Generating with {candidate.name}, {image_request.aspect_ratio} ({fitted.size}).")
        try:
            images, failures = await _generate_images(candidate, image_request, ledger)
        except upstream.UpstreamError as exc:
            following = chain[position + 1] if position + 1 < len(chain) else None
            if following is None or not _falls_back(exc, candidate):
                failure = _client_error(exc, candidate)
                if position:
                    tried = " -> ".join(model.name for model in chain[: position + 1])
                    failure.message = (
                        f"No model of the fallback chain {tried} could serve the request. {failure.message}"
                    )
                raise failure from exc
            reason = _short_reason(exc)
            log.warning("model %s failed (%s); falling back to %s", candidate.name, exc.code, following.name)
            request.progress(f"{candidate.name} is unavailable ({reason}); falling back to {following.name}.")
            fallback_note = _fallback_note(route, following, reason, first=position == 0)
            continue
        return _Made(candidate, fitted, images, failures, fallback_note)
    raise AssertionError("unreachable: the last model of the chain returns or raises")


def _fallback_note(route: ModelRoute, following: ModelRoute, reason: str, *, first: bool) -> str:
    if first:
        return f"Generated by fallback model {following.name}: {route.name} was unavailable ({reason})."
    return (
        f"Generated by fallback model {following.name}: {route.name} and the models before it in the "
        f"fallback chain were unavailable ({reason})."
    )


def _size_note(asked: str, fitted: NegotiatedSize, model: str, made: list[str]) -> str:
    """What the answer says when the images are not the size asked for: the model's rules, the vendor, or both."""
    sent = fitted.size
    made_text = ", ".join(made)
    if fitted.adjusted and made in ([], [sent]):
        return f"Asked for {asked}; generated at {sent}, {fitted.reason} ({model})."
    if fitted.adjusted:
        return f"Asked for {asked}; {model} was asked for {sent} ({fitted.reason}) and made {made_text}."
    if made and made != [asked]:
        return f"Asked for {asked}; {model} made {made_text}."
    return ""


def _falls_back(exc: upstream.UpstreamError, route: ModelRoute) -> bool:
    """Whether a failure of ``route`` lets the request move on to its fallback model.

    Unavailable keys and failures another key might not have had move on. A timeout does not:
    the vendor may still be making (and billing) the image. Refusals of the prompt itself move on
    only where the operator said so, since the next model would likely refuse it too.
    """
    if isinstance(exc, upstream.NoAvailableKey | upstream.AllKeysFailed):
        return True
    if isinstance(exc, upstream.ContentPolicy | upstream.BadRequest):
        return route.fallback_on_content_policy
    return False


def _short_reason(exc: upstream.UpstreamError) -> str:
    last = getattr(exc, "last", None)
    return (last or exc).code.replace("_", " ")


async def _generate_images(
    route: ModelRoute, image_request: ImageRequest, ledger: _Ledger
) -> tuple[list[UpstreamImage], list[str]]:
    """``image_request.n`` images from one model: in as few calls as the model batches, all at once.

    A batch may come back short (SiliconFlow documents batch_size for Kolors only): the missing
    images are asked for once more, one per call. Images that still fail are reported, not fatal,
    as long as one image was made; with none, the first failure is raised.
    """
    adapter = route.vendor.adapter()
    per_call = max(1, min(adapter.max_batch(image_request), image_request.n))
    batches = [min(per_call, image_request.n - start) for start in range(0, image_request.n, per_call)]

    async def one_call(count: int) -> list[UpstreamImage]:
        batch_request = replace(image_request, n=count)
        result = await call_with_keys(route.vendor, lambda key: adapter.call(get_client(), batch_request, key.secret))
        ledger.key_labels.append(result.key_label)
        return list(result.value)[:count]

    async def calls(counts: list[int]) -> list[list[UpstreamImage] | upstream.UpstreamError]:
        results = await asyncio.gather(*(one_call(count) for count in counts), return_exceptions=True)
        for result in results:
            if isinstance(result, upstream.UpstreamError):
                if getattr(result, "key_label", ""):
                    ledger.key_labels.append(result.key_label)
            elif isinstance(result, BaseException):
                raise result
        return results

    results = await calls(batches)
    images: list[UpstreamImage] = []
    errors_seen: list[upstream.UpstreamError] = []
    short = 0
    for count, result in zip(batches, results, strict=True):
        if isinstance(result, list):
            images += result
            short += count - len(result)
        else:
            errors_seen.append(result)
    if short and images:
        for result in await calls([1] * short):
            if isinstance(result, list):
                images += result
            else:
                errors_seen.append(result)
    if not images:
        if errors_seen:
            raise errors_seen[0]
        raise upstream.GenerationFailed("the vendor answered without an image")
    missing = image_request.n - len(images)
    failures = [_short_reason(error) for error in errors_seen][:missing]
    failures += ["the vendor answered without an image"] * (missing - len(failures))
    return images, failures


async def _prepare_all(upstream_images: list[UpstreamImage], route: ModelRoute) -> list[PreparedImage]:
    vendor_host = urlsplit(route.vendor.base_url).hostname or ""
    try:
        return list(
            await asyncio.gather(
                *(
                    prepare_image(
                        url=image.url,
                        b64=image.b64,
                        data=image.data,
                        content_type=image.content_type,
                        vendor=route.vendor.name,
                        trusted_hosts=frozenset({vendor_host}),
                    )
                    for image in upstream_images
                )
            )
        )
    except ImageFetchFailed as exc:
        # The vendor already generated (and likely billed) the image: say so, and do not
        # generate again behind the client's back.
        raise ApiError(
            502,
            f"The image was generated by {route.vendor.name!r} but could not be stored: {exc}",
            code="image_fetch_failed",
            error_type="upstream_error",
        ) from exc


def _client_error(exc: upstream.UpstreamError, route: ModelRoute) -> ApiError:
    """The failure as the client sees it; ``route`` is the model that failed last."""
    if isinstance(exc, upstream.ContentPolicy):
        message = f"The vendor refused the prompt under its content policy: {exc.message}"
    elif isinstance(exc, upstream.BadRequest):
        message = f"The vendor rejected the request: {exc.message}"
    elif isinstance(exc, upstream.UpstreamTimeout):
        message = (
            f"Model '{route.name}' did not answer in time ({exc.message}); the request was not resubmitted "
            "because the vendor may already be working on it."
        )
    else:
        message = f"Model '{route.name}' could not generate the image. {exc.message}"
    headers = {}
    if isinstance(exc, upstream.NoAvailableKey) and exc.retry_after:
        headers["Retry-After"] = str(math.ceil(exc.retry_after))
    return ApiError(exc.status, message, code=exc.code, error_type=exc.error_type, headers=headers)


@transaction.atomic
def _record(
    ledger: _Ledger,
    *,
    status: str,
    error: ApiError | None = None,
    prepared: list[PreparedImage] = (),
) -> list[StoredImage]:
    request, route = ledger.request, ledger.route
    images = record_images(list(prepared)) if prepared else []
    generation = Generation.objects.create(
        client_key_id=request.caller.client_key_id,
        client_label=request.caller.label,
        model=request.model[:200],
        vendor_id=route.vendor.id if route else None,
        vendor_name=route.vendor.name if route else "",
        served_model=route.name if route else "",
        key_label=", ".join(dict.fromkeys(label for label in ledger.key_labels if label))[:100],
        status=status,
        error_code=(error.code or "") if error else "",
        error_message=error.message[:2000] if error else "",
        latency_ms=int((time.monotonic() - ledger.started) * 1000),
        requested_size=ledger.requested_size,
        size=ledger.size,
        generated_size=", ".join(distinct_sizes(images))[:100],
        n=request.n,
        endpoint=request.endpoint,
        end_user=request.end_user[:200],
        notes="\n".join(ledger.notes),
        user_prompt=request.idea,
        prompt=ledger.prompt,
    )
    if images:
        links = Generation.images.through
        links.objects.bulk_create([links(generation=generation, storedimage=image) for image in images])
    return images
