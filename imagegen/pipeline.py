"""One generation, end to end: size, optimize, generate along the fallback chain, store, record.

The ``vendors`` and ``proxy`` apps do not know each other; this module joins them. It speaks no
HTTP: the edge resolves the route, hands over a ``GenerationRequest`` and turns the outcome (or
the domain error raised here) into an answer. The ledger row is written before the first vendor
call and completed whatever happens (``imagegen.ledger``); a shutdown's deadline cuts the work
short with an answer rather than a kill (``imagegen.shutdown``).
"""

from __future__ import annotations

import asyncio

from core import metrics, request_context
from core.errors import GatewayError
from core.fetch import origin
from imagegen import image_cache, ledger, prompts
from imagegen.client_keys import Caller
from imagegen.costs import UNKNOWN
from imagegen.errors import ClientClosed, EmptyPrompt, ImageNotStored, ModelNotFound
from imagegen.fallback import Made, generate_along_chain
from imagegen.generation import GenerationOutcome, GenerationRequest, distinct_sizes
from imagegen.models import Generation
from imagegen.prompts import OptimizedPrompt
from imagegen.shutdown import ServerShuttingDown, before_shutdown_deadline, shutdown_clock
from imagegen.size_from_text import SizeChoice, choose_size
from proxy.models import StoredImage
from proxy.services import ImageFetchFailed, PreparedImage, prepare_image
from vendors.selectors import ModelRoute, route_for, routing_table
from vendors.size_rules import NegotiatedSize, negotiate

__all__ = ["GenerationOutcome", "GenerationRequest", "generate", "resolve_route"]


async def resolve_route(model: str, caller: Caller | None = None) -> ModelRoute:
    """The route of a public model name, or the 404 that names the models there are. A model the
    caller's key may not use is answered exactly as one that does not exist."""
    route = await route_for(model)
    if route is None or (caller is not None and not caller.allows(model)):
        names = (await routing_table()).model_names()
        raise ModelNotFound(model, [name for name in names if caller is None or caller.allows(name)])
    request_context.note_model(route.name)
    return route


async def generate(request: GenerationRequest) -> GenerationOutcome:
    """The outcome of ``request``; whatever happens, the client key's admission is released after."""
    delivered = 0
    try:
        outcome = await _generate_and_record(request)
        delivered = len(outcome.images)
        return outcome
    finally:
        if request.admission is not None:
            await request.admission.release(delivered)


async def _generate_and_record(request: GenerationRequest) -> GenerationOutcome:
    entry = ledger.LedgerEntry(request=request, route=request.route)
    try:
        outcome = await before_shutdown_deadline(_generate(request, entry))
    except GatewayError as exc:
        status = Generation.Status.INTERRUPTED if isinstance(exc, ServerShuttingDown) else Generation.Status.FAILED
        exc.vendor_may_have_billed = entry.may_have_billed()
        await asyncio.shield(entry.close(status, error=exc))
        raise
    except asyncio.CancelledError:
        # The client went away (Django cancels the view), or the server's grace ran out: the ledger
        # still says so. Shielded: the task is being cancelled, and the row must be written all the same.
        if shutdown_clock().stopping:
            await asyncio.shield(entry.close(Generation.Status.INTERRUPTED, error=ServerShuttingDown()))
        else:
            await asyncio.shield(entry.close(Generation.Status.FAILED, error=ClientClosed()))
        raise
    # One write transaction for the images and the ledger row: the answer waits on it.
    entry.notes += [note for note in (outcome.fallback_note, outcome.size_note) if note] + outcome.failures
    with metrics.stage("store"):
        outcome.images = await entry.close(Generation.Status.SUCCESS, prepared=outcome.prepared)
    outcome.cost, outcome.generation_id = entry.cost, entry.generation_id
    _count_images(outcome)
    await image_cache.keep_images(request, outcome)  # stored and recorded first: the cache points at rows
    return outcome


async def _generate(request: GenerationRequest, entry: ledger.LedgerEntry) -> GenerationOutcome:
    choice = choose_size(request.idea, requested=request.size, model_default=request.route.default_size)
    entry.requested_size = entry.size = choice.size
    if not choice.prompt:
        raise EmptyPrompt()
    optimized = await _optimize(request, choice.prompt, entry)
    cached = await image_cache.cached_images(request, choice.size, optimized.prompt)
    if cached is not None:
        return _from_cache(request, choice, optimized, cached, entry)
    with metrics.stage("generate"):
        made = await generate_along_chain(request, choice, optimized.prompt, entry)
    request.progress("Storing the image." if len(made.images) == 1 else "Storing the images.")
    with metrics.stage("fetch"):
        prepared = await _prepare_all(made)
    return GenerationOutcome(
        model=made.model.name,
        requested_model=request.route.name,
        vendor=made.model.vendor.name,
        prompt=optimized.prompt,
        optimized=optimized.optimized,
        requested_size=choice.size,
        size=entry.size,
        size_note=size_note(choice.size, made.fitted, made.model.name, distinct_sizes(prepared)),
        fallback_note=made.fallback_note,
        failures=made.failures,
        prepared=prepared,
        usage=optimized.usage,
    )


async def _optimize(request: GenerationRequest, idea: str, entry: ledger.LedgerEntry) -> OptimizedPrompt:
    async def before_call() -> None:
        await entry.open()  # the optimizer's LLM is a vendor call too: the row goes first
        entry.optimizer_usage = UNKNOWN  # until its answer says otherwise

    with metrics.stage("optimize"):
        optimized = await prompts.optimize(idea, request.progress, before_call)
    entry.prompt, entry.optimizer_usage = optimized.prompt, optimized.usage
    if optimized.cached:
        entry.notes.append("optimizer: cached (no LLM call, no tokens)")
    return optimized


def _from_cache(
    request: GenerationRequest,
    choice: SizeChoice,
    optimized: OptimizedPrompt,
    images: list[StoredImage],
    entry: ledger.LedgerEntry,
) -> GenerationOutcome:
    """The outcome of a hit of the image cache: the images stored before, no vendor called."""
    route = request.route
    fitted = negotiate(choice.width, choice.height, route.capability)  # what was sent when they were made
    entry.route, entry.size, entry.cached_images = route, fitted.size, images
    entry.notes.append("image: cached (no vendor call)")
    request.progress("Found in the image cache: no vendor call.")
    return GenerationOutcome(
        model=route.name,
        requested_model=route.name,
        vendor=route.vendor.name,
        prompt=optimized.prompt,
        optimized=optimized.optimized,
        requested_size=choice.size,
        size=fitted.size,
        size_note=size_note(choice.size, fitted, route.name, distinct_sizes(images)),
        usage=optimized.usage,
        from_cache=True,
    )


def _count_images(outcome: GenerationOutcome) -> None:
    vendor = "cache" if outcome.from_cache else outcome.vendor
    metrics.IMAGES.labels(outcome.model, vendor).inc(len(outcome.images))
    if not outcome.from_cache:
        metrics.STORED_BYTES.labels(outcome.vendor).inc(sum(image.byte_size for image in outcome.images))


def size_note(asked: str, fitted: NegotiatedSize, model: str, made: list[str]) -> str:
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


async def _prepare_all(made: Made) -> list[PreparedImage]:
    vendor = made.model.vendor
    trusted = frozenset({origin(vendor.base_url)})  # the vendor's exact origin, never its host on another port
    try:
        return list(
            await asyncio.gather(
                *(
                    prepare_image(
                        url=image.url,
                        b64=image.b64,
                        data=image.data,
                        content_type=image.content_type,
                        vendor=vendor.name,
                        trusted_origins=trusted,
                    )
                    for image in made.images
                )
            )
        )
    except ImageFetchFailed as exc:
        # The vendor already generated (and likely billed) the image: say so, and do not
        # generate again behind the client's back.
        raise ImageNotStored(vendor.name, exc.message, exc) from exc
