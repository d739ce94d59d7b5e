"""fal.ai queue API: https://docs.fal.ai/model-endpoints/queue

Base URL ``https://queue.fal.run``. Key as ``Authorization: Key <key>`` (the literal word ``Key``). The
upstream model name is the model id, ``owner/app[/subpath]`` (``fal-ai/flux/schnell``).

Submit ``POST {base}/{model}`` with ``{prompt, image_size, num_images when n > 1}`` -> ``{request_id,
status_url, response_url, cancel_url}``. ``image_size`` is one of fal's presets when the size is exactly one
(square_hd 1024x1024, square 512x512, portrait_4_3 768x1024, portrait_16_9 576x1024, landscape_4_3 1024x768,
landscape_16_9 1024x576), else ``{"width", "height"}``; the ``width_height`` format always sends the object,
``aspect_ratio`` sends ``aspect_ratio`` (models such as flux-pro ultra). A sync base (``https://fal.run``)
answers the submit with the output itself, which is accepted as well.

Then ``GET status_url`` (checked, else ``{base}/owner/app/requests/{id}/status``): HTTP 202 while
``IN_QUEUE`` / ``IN_PROGRESS``, 200 ``COMPLETED``; then ``GET response_url`` for ``{"images": [{url, width,
height, content_type}], "has_nsfw_concepts": [...]}``. Images flagged in ``has_nsfw_concepts`` are left out;
when every image is flagged the answer is ContentPolicy. Cancelling is ``PUT cancel_url``.

Errors at submit: 422 with ``detail[].type == "content_policy_violation"`` -> ContentPolicy, other 422 and 4xx
-> BadRequest; 401 and 403 (``User is locked ... Exhausted balance``, admin lock) -> KeyRejected; 429 ->
RateLimited; 5xx or an infrastructure ``error_type`` (``request_timeout``, ``startup_timeout``,
``runner_*``) -> UpstreamUnavailable. The result of a finished job can be the model's own error, mapped by
its body: content policy -> ContentPolicy; validation -> BadRequest; an infrastructure ``error_type`` or a
5xx carrying the model's error -> GenerationFailed (the job is over and fal retried it already; another key
may try); a 5xx without a body of fal's -> retried.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from vendors import errors
from vendors.adapters.base import ImageRequest, UpstreamImage, json_body
from vendors.adapters.openai_errors import looks_like_moderation
from vendors.adapters.polling import (
    Job,
    JobLost,
    PollAgain,
    PollingAdapter,
    clean_message,
    detail_text,
    detail_types,
)

PRESETS = {
    (1024, 1024): "square_hd",
    (512, 512): "square",
    (768, 1024): "portrait_4_3",
    (576, 1024): "portrait_16_9",
    (1024, 768): "landscape_4_3",
    (1024, 576): "landscape_16_9",
}
POLICY_TYPES = {"content_policy_violation"}
INFRA_TYPES = {"request_timeout", "startup_timeout", "internal_error", "generation_timeout"}
DONE = "completed"


class FalAdapter(PollingAdapter):
    kind = "fal"
    label = "fal.ai queue (polled)"
    purpose = "image"
    default_size_format = "preset"
    size_field = "image_size"
    batch_limit = 4  # num_images 1-4
    cancel_method = "PUT"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}", "Accept": "application/json"}

    def size_fields(self, request: ImageRequest) -> dict[str, Any]:
        size_format = request.size_format or self.default_size_format
        if size_format == "preset":
            preset = PRESETS.get((request.width, request.height))
            return {"image_size": preset or {"width": request.width, "height": request.height}}
        if size_format in ("width_height", "size"):  # fal takes no WxH string: the object it is
            return {"image_size": {"width": request.width, "height": request.height}}
        return super().size_fields(request)

    def _model(self, model: str) -> tuple[str, str]:
        """The model id as a path, and its owner/app (the queue's status/result URLs drop the subpath)."""
        parts = [part for part in model.strip().split("/") if part]
        if len(parts) < 2 or any(part in (".", "..") for part in parts):
            raise errors.BadRequest("the model name must be a fal model id such as fal-ai/flux/schnell")
        path = "/".join(quote(part, safe="-._~") for part in parts)
        return path, "/".join(quote(part, safe="-._~") for part in parts[:2])

    def build_request(self, request: ImageRequest, key: str) -> httpx.Request:
        path, _ = self._model(request.model)
        payload: dict[str, Any] = {"prompt": request.prompt, **self.size_fields(request)}
        if request.n > 1:
            payload["num_images"] = min(request.n, self.max_batch(request))
        headers = {**self.auth_headers(key), "Content-Type": "application/json"}
        return httpx.Request("POST", f"{self.vendor.base_url.rstrip('/')}/{path}", headers=headers, json=payload)

    async def submit(self, client: httpx.AsyncClient, request: ImageRequest, key: str, deadline: float):
        response = await self.send_submit(client, self.build_request(request, key), deadline)
        body = self.submitted_body(response)
        if "images" in body:  # a sync endpoint answered with the output itself
            return self.images(body, response)
        request_id = body.get("request_id")
        if not isinstance(request_id, str) or not request_id:
            raise JobLost("the vendor accepted the job but gave no request id to follow it by", vendor_status=200)
        _, app = self._model(request.model)
        own = f"{self.vendor.base_url.rstrip('/')}/{app}/requests/{quote(request_id, safe='')}"
        return Job(
            id=request_id,
            deadline=deadline,
            poll_url=self.follow(body.get("status_url"), own + "/status"),
            result_url=self.follow(body.get("response_url"), own),
            cancel_url=self.follow(body.get("cancel_url"), own + "/cancel"),
            wanted=min(request.n, self.max_batch(request)),
        )

    async def poll(self, client: httpx.AsyncClient, job: Job, key: str) -> list[UpstreamImage] | None:
        response = await self.fetch(client, httpx.Request("GET", job.poll_url, headers=self.auth_headers(key)), job)
        if response.status_code >= 400:
            raise self.poll_error(response, job)
        body = json_body(response)
        status = str(body.get("status") or "").lower() if isinstance(body, dict) else ""
        if response.status_code == 202 or status != DONE:
            return None  # IN_QUEUE, IN_PROGRESS
        return await self.result(client, job, key)

    async def result(self, client: httpx.AsyncClient, job: Job, key: str) -> list[UpstreamImage]:
        response = await self.fetch(client, httpx.Request("GET", job.result_url, headers=self.auth_headers(key)), job)
        body = json_body(response)
        if response.status_code < 300:
            if not isinstance(body, dict):
                raise PollAgain("the result could not be read")
            return self.images(body, response)
        raise self.result_error(response, body, job)

    def result_error(self, response: httpx.Response, body: Any, job: Job) -> errors.UpstreamError:
        """A finished job whose result is an error: the model's own (mapped by body) or a passing one."""
        status = response.status_code
        message = detail_text(body) or clean_message(response, body)
        error_type = _error_type(response, body)
        if detail_types(body) & POLICY_TYPES:
            return errors.ContentPolicy(message, vendor_status=status)
        if status in (401, 403, 404, 429) or (status >= 500 and not isinstance(body, dict)):
            return self.poll_error(response, job)  # the key or the queue, not the job: retried or JobLost
        if error_type or status >= 500:
            return errors.GenerationFailed(f"the job failed: {message}", vendor_status=status)
        if looks_like_moderation(message):
            return errors.ContentPolicy(message, vendor_status=status)
        return errors.BadRequest(message, vendor_status=status)

    def images(self, body: dict[str, Any], response: httpx.Response) -> list[UpstreamImage]:
        items = body.get("images")
        if not isinstance(items, list) and isinstance(body.get("image"), dict):
            items = [body["image"]]
        flags = body.get("has_nsfw_concepts") if isinstance(body.get("has_nsfw_concepts"), list) else []
        seed = body.get("seed") if isinstance(body.get("seed"), int) else None
        images, flagged = [], 0
        for index, item in enumerate(items if isinstance(items, list) else []):
            if index < len(flags) and flags[index] is True:
                flagged += 1
                continue
            image = _image(item, seed)
            if image is not None:
                images.append(image)
        if images:
            return images
        if flagged:
            raise errors.ContentPolicy(
                "the vendor's safety checker flagged the generated image", vendor_status=response.status_code
            )
        raise errors.GenerationFailed("the job finished without an image", vendor_status=response.status_code)

    def classify_error(self, response: httpx.Response) -> errors.UpstreamError:
        body = json_body(response)
        message, status = detail_text(body) or clean_message(response, body), response.status_code
        if detail_types(body) & POLICY_TYPES:
            return errors.ContentPolicy(message, vendor_status=status)
        if status == 429:
            retry_after = errors.parse_retry_after(response.headers.get("retry-after"))
            return errors.RateLimited(message, retry_after=retry_after, vendor_status=status)
        if status == 408 or status >= 500 or _error_type(response, body):
            return errors.UpstreamUnavailable(message, vendor_status=status)
        if status in (401, 402, 403):
            return errors.KeyRejected(message, vendor_status=status)
        if looks_like_moderation(message):
            return errors.ContentPolicy(message, vendor_status=status)
        return errors.BadRequest(message, vendor_status=status)


def _error_type(response: httpx.Response, body: Any) -> str:
    """fal's infrastructure error type (body ``error_type`` or header ``X-Fal-Error-Type``), if it is one."""
    value = body.get("error_type") if isinstance(body, dict) else None
    value = str(value or response.headers.get("x-fal-error-type") or "").lower()
    return value if value in INFRA_TYPES or value.startswith("runner_") else ""


def _image(item: Any, seed: int | None) -> UpstreamImage | None:
    url = item.get("url") if isinstance(item, dict) else item
    if not isinstance(url, str) or not url:
        return None
    content_type = item.get("content_type") if isinstance(item, dict) else None
    content_type = content_type if isinstance(content_type, str) else None
    if url.startswith("data:"):  # sync_mode returns the image inline
        return UpstreamImage(b64=url, content_type=content_type, seed=seed)
    return UpstreamImage(url=url, content_type=content_type, seed=seed)
