"""Black Forest Labs API: https://docs.bfl.ai/api-reference/utility/get-result

Base URL ``https://api.bfl.ai`` (or a regional ``https://api.eu.bfl.ai`` / ``https://api.us.bfl.ai``; a base
ending in ``/v1`` works too). Key in the ``x-key`` header, not Bearer.

Submit ``POST {base}/v1/{model}`` where the upstream model name is the endpoint (``flux-pro-1.1``,
``flux-pro-1.1-ultra``, ``flux-kontext-pro``, ``flux-2-pro``, ...) with ``{prompt, width, height}``. Width and
height are rounded to multiples of 32, as the API demands. Ultra and Kontext models take ``aspect_ratio``
instead: that is their default when the model's size format is unset. One image per call (batch_limit 1).

Input images, base64 without a data-URL prefix, in the fields of the endpoint's family: Kontext
``input_image``, ``input_image_2`` .. ``input_image_4``; FLUX.2 ``input_image``, ``input_image_2`` ..
``input_image_8``; FLUX1.1 [pro] and its ultra ``image_prompt`` (one image that guides the result); the fill
endpoint (``flux-pro-1.0-fill``) ``image`` plus ``mask`` (black and white, white = change, the image's own
size; made from OpenAI's transparent = change), and no size (the result has the input's). Other endpoints
take none: refused before any call.

The answer is ``{id, polling_url}``; ``GET polling_url`` (checked; else ``{base}/v1/get_result?id=``) with the
key, until ``status`` is final: ``Pending`` -> poll again; ``Task not found`` -> poll again a few times (a new
job is not always visible at once), then JobLost; ``Request Moderated`` / ``Content Moderated`` ->
ContentPolicy; ``Error`` -> GenerationFailed (the job is over; another key may try); ``Ready`` ->
``result.sample``, a signed URL that lives 10 minutes. BFL has no cancel request.

Errors, decided by ``vendors.errors.classify`` with no difference of BFL's own: 401/402/403 -> KeyRejected
(BFL answers a bad key with 403); 422 (FastAPI ``detail`` list, read as ``field: msg``) and other 4xx ->
BadRequest; 429 (the account's concurrent-task cap) -> RateLimited; 408/5xx -> UpstreamUnavailable.
"""

from __future__ import annotations

import base64
import dataclasses
from urllib.parse import quote, urlencode

import httpx

from core.redaction import admin_text
from vendors import errors
from vendors.adapters.base import ImageRequest, UpstreamImage
from vendors.adapters.inputs import black_and_white_mask, refuse_uncarried
from vendors.adapters.polling import Job, PollAgain, PollingAdapter
from vendors.adapters.probing import amount
from vendors.adapters.reading import Json, as_dict, as_int, as_str, json_body
from vendors.errors import JobLost

MODERATED = ("request moderated", "content moderated")
FAILED = ("error", "failed")
RATIO_MODELS = ("ultra", "kontext")  # endpoints that take aspect_ratio instead of width/height
_MORE = tuple(f"input_image_{number}" for number in range(2, 9))
# (a word of the endpoint name, the fields its input images go in, in order); first match wins.
IMAGE_FIELDS = (
    ("fill", ("image",)),
    ("kontext", ("input_image", *_MORE[:3])),
    ("flux-2", ("input_image", *_MORE)),
    ("flux-pro-1.1", ("image_prompt",)),
)


def image_fields(endpoint: str) -> tuple[str, ...]:
    """The fields an endpoint takes its input images in (see the module docstring); () for none."""
    name = endpoint.lower()
    return next((fields for word, fields in IMAGE_FIELDS if word in name), ())


class BFLAdapter(PollingAdapter):
    kind = "bfl"
    label = "Black Forest Labs API (polled)"
    default_size_format = "width_height"
    batch_limit = 1
    input_image_limit = 8  # FLUX.2's input_image .. input_image_8
    carries_mask = True  # the fill endpoint's mask
    not_found_limit = 5  # "Task not found" polls in a row taken as a job that is still being registered

    def api(self, path: str) -> str:
        root = self.vendor.base_url.rstrip("/").removesuffix("/v1")
        return f"{root}/v1/{path.lstrip('/')}"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"x-key": key, "Accept": "application/json"}

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The account's credits.
        return [httpx.Request("GET", self.api("credits"), headers=self.auth_headers(key))]

    def probe_summary(self, body: Json) -> str:
        return amount("credits", as_dict(body).get("credits"))

    def size_fields(self, request: ImageRequest) -> dict[str, Json]:
        size_format = request.size_format
        if not size_format:
            takes_ratio = any(word in request.model.lower() for word in RATIO_MODELS)
            size_format = "aspect_ratio" if takes_ratio else self.default_size_format
        if size_format in ("width_height", "size"):
            return {"width": _multiple_of_32(request.width), "height": _multiple_of_32(request.height)}
        return super().size_fields(dataclasses.replace(request, size_format=size_format))

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        endpoint = request.model.strip().strip("/").removeprefix("v1/")
        if not endpoint:
            raise errors.BadRequest("the model name must be a BFL endpoint such as flux-pro-1.1")
        fields = image_fields(endpoint)
        refuse_uncarried(request, most=len(fields), mask="fill" in endpoint.lower(), model=request.model)
        payload: dict[str, Json] = {"prompt": request.prompt}
        if "fill" not in endpoint.lower():  # the fill endpoint answers at the input image's size
            payload.update(self.size_fields(request))
        payload.update((field, image.b64()) for field, image in zip(fields, request.images, strict=False))
        if request.mask is not None:
            payload["mask"] = base64.b64encode(black_and_white_mask(request.mask)).decode("ascii")
        headers = {**self.auth_headers(key), "Content-Type": "application/json"}
        return httpx.Request("POST", self.api(quote(endpoint, safe="/-._~")), headers=headers, json=payload)

    async def submit(self, client: httpx.AsyncClient, request: ImageRequest, key: str, deadline: float) -> Job:
        response = await self.send_submit(client, self.build_request(request, key), deadline)
        body = self.submitted_body(response)
        job_id = body.get("id")
        if not isinstance(job_id, str) or not job_id:
            raise JobLost("the vendor accepted the job but gave no id to follow it by", vendor_status=200)
        own = self.api("get_result") + "?" + urlencode({"id": job_id})
        return Job(id=job_id, deadline=deadline, poll_url=self.follow(body.get("polling_url"), own))

    async def poll(self, client: httpx.AsyncClient, job: Job, key: str) -> list[UpstreamImage] | None:
        response = await self.fetch(client, httpx.Request("GET", job.poll_url, headers=self.auth_headers(key)), job)
        if response.status_code == 404:
            return self._not_found(job)
        if response.status_code >= 400:
            raise self.poll_error(response, job)
        body = json_body(response)
        if not isinstance(body, dict):
            raise PollAgain("the job status could not be read")
        status = str(body.get("status") or "").strip()
        lowered = status.lower()
        if lowered == "ready":
            return [_sample(body)]
        if lowered == "task not found":
            return self._not_found(job)
        job.misses = 0
        if lowered in MODERATED:
            message = _with_details(f"the vendor's moderation stopped the job ({status})", body, key)
            raise errors.ContentPolicy.from_vendor(message, vendor_status=200)
        if lowered in FAILED:
            message = _with_details("the job ended with an error", body, key)
            raise errors.GenerationFailed.from_vendor(message, vendor_status=200)
        return None  # Pending, or a status this adapter does not know yet

    def _not_found(self, job: Job) -> list[UpstreamImage] | None:
        """A poll that did not find the job: None (ask again) a few times, then JobLost."""
        job.misses += 1
        if job.misses > self.not_found_limit:
            raise JobLost(f"the job {job.label} was submitted but the vendor no longer finds it", vendor_status=200)
        return None


def _multiple_of_32(value: int) -> int:
    return max(32, round(value / 32) * 32)


def _sample(body: dict[str, Json]) -> UpstreamImage:
    result = as_dict(body.get("result"))
    sample = as_str(result.get("sample"))
    if not sample:
        raise errors.GenerationFailed("the job finished without an image", vendor_status=200)
    seed = as_int(result.get("seed"))
    if sample.startswith("data:"):
        return UpstreamImage(b64=sample, seed=seed)
    return UpstreamImage(url=sample, seed=seed)


def _with_details(message: str, body: dict[str, Json], key: str) -> str:
    """``message`` plus the vendor's reasons from ``details`` (a dict of lists, a list or a string)."""
    details = body.get("details")
    reasons: list[str] = []
    if isinstance(details, dict):
        for value in details.values():
            reasons += [str(item) for item in value] if isinstance(value, list) else [str(value)]
    elif isinstance(details, list):
        reasons = [str(item) for item in details]
    elif isinstance(details, str):
        reasons = [details]
    reasons = [reason for reason in reasons if reason and reason != "None"]
    if not reasons:
        return message
    return admin_text(f"{message}: {', '.join(reasons[:5])}", key)
