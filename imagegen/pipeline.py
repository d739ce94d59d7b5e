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
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.db import transaction

from imagegen import prompts, sizes
from imagegen.api.auth import Caller
from imagegen.api.errors import ApiError
from imagegen.db import run_db
from imagegen.models import Generation
from proxy.models import StoredImage
from proxy.services import ImageFetchFailed, PreparedImage, prepare_image, record_images
from vendors import errors as upstream
from vendors.adapters.base import ImageRequest, UpstreamImage
from vendors.http import get_client
from vendors.selectors import ModelRoute, routing_table
from vendors.services import call_with_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    idea: str
    caller: Caller
    size: str | None = None
    n: int = 1


@dataclass
class GenerationOutcome:
    model: str
    vendor: str
    prompt: str
    optimized: bool
    size: str
    prepared: list[PreparedImage] = field(default_factory=list)
    images: list[StoredImage] = field(default_factory=list)


@dataclass
class _Ledger:
    """What the Generation row will say; filled in as the request goes."""

    request: GenerationRequest
    started: float = field(default_factory=time.monotonic)
    route: ModelRoute | None = None
    key_label: str = ""
    size: str = ""
    prompt: str = ""


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
    outcome.images = await run_db(_record, ledger, status=Generation.Status.SUCCESS, prepared=outcome.prepared)
    return outcome


async def _generate(request: GenerationRequest, ledger: _Ledger) -> GenerationOutcome:
    table = await routing_table()
    route = table.models.get(request.model)
    if route is None:
        available = ", ".join(table.model_names()) or "none are configured"
        raise ApiError(
            404,
            f"The model '{request.model}' does not exist. Available models: {available}.",
            code="model_not_found",
            param="model",
        )
    ledger.route = route

    choice = sizes.choose_size(request.idea, requested=request.size, model_default=route.default_size)
    ledger.size = choice.size
    if not choice.prompt:
        raise ApiError(400, "The prompt is empty once the size or ratio is taken out.", code="empty_prompt")

    optimized = await prompts.optimize(choice.prompt, table)
    ledger.prompt = optimized.prompt

    image_request = ImageRequest(
        prompt=optimized.prompt, model=route.upstream_name, width=choice.width, height=choice.height, n=request.n
    )
    adapter = route.vendor.adapter()
    try:
        result = await call_with_keys(route.vendor, lambda key: adapter.call(get_client(), image_request, key.secret))
    except upstream.UpstreamError as exc:
        ledger.key_label = getattr(exc, "key_label", "")
        raise _client_error(exc, route) from exc
    ledger.key_label = result.key_label

    prepared = await _prepare_all(result.value, route)
    return GenerationOutcome(
        model=route.name,
        vendor=route.vendor.name,
        prompt=optimized.prompt,
        optimized=optimized.optimized,
        size=choice.size,
        prepared=prepared,
    )


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
        key_label=ledger.key_label,
        status=status,
        error_code=(error.code or "") if error else "",
        error_message=error.message[:2000] if error else "",
        latency_ms=int((time.monotonic() - ledger.started) * 1000),
        size=ledger.size,
        user_prompt=request.idea,
        prompt=ledger.prompt,
    )
    if images:
        links = Generation.images.through
        links.objects.bulk_create([links(generation=generation, storedimage=image) for image in images])
    return images
