"""The ledger: one ``Generation`` row per request, successful or not, written with its images."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db import transaction

from core.errors import GatewayError
from imagegen.generation import GenerationRequest, distinct_sizes
from imagegen.models import Generation
from proxy.models import StoredImage
from proxy.services import PreparedImage, record_images
from vendors.selectors import ModelRoute


@dataclass
class LedgerEntry:
    """What the Generation row will say; filled in as the request goes."""

    request: GenerationRequest
    started: float = field(default_factory=time.monotonic)
    route: ModelRoute | None = None  # the model being tried (the one that served, at the end)
    key_labels: list[str] = field(default_factory=list)
    requested_size: str = ""
    size: str = ""
    prompt: str = ""
    notes: list[str] = field(default_factory=list)


@transaction.atomic
def record(
    entry: LedgerEntry,
    *,
    status: str,
    error: GatewayError | None = None,
    prepared: list[PreparedImage] = (),
) -> list[StoredImage]:
    """Write the row, and the rows of the prepared images, in one transaction; the stored images."""
    images = record_images(list(prepared)) if prepared else []
    generation = Generation.objects.create(**_row(entry, status, error, images))
    if images:
        links = Generation.images.through
        links.objects.bulk_create([links(generation=generation, storedimage=image) for image in images])
    return images


def _row(entry: LedgerEntry, status: str, error: GatewayError | None, images: list[StoredImage]) -> dict:
    request, route = entry.request, entry.route
    return {
        "client_key_id": request.caller.client_key_id,
        "client_label": request.caller.label,
        "model": request.model[:200],
        "vendor_id": route.vendor.id if route else None,
        "vendor_name": route.vendor.name if route else "",
        "served_model": route.name if route else "",
        "key_label": ", ".join(dict.fromkeys(label for label in entry.key_labels if label))[:100],
        "status": status,
        "error_code": (error.code or "") if error else "",
        "error_message": error.message[:2000] if error else "",
        "latency_ms": int((time.monotonic() - entry.started) * 1000),
        "requested_size": entry.requested_size,
        "size": entry.size,
        "generated_size": ", ".join(distinct_sizes(images))[:100],
        "n": request.n,
        "endpoint": request.endpoint,
        "end_user": request.end_user[:200],
        "notes": "\n".join(entry.notes),
        "user_prompt": request.idea,
        "prompt": entry.prompt,
    }
