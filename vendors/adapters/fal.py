"""fal.ai queue API: https://docs.fal.ai/model-endpoints/queue

Base URL ``https://queue.fal.run``. Key as ``Authorization: Key <key>`` (the literal word ``Key``). The
upstream model name is the model id, ``owner/app[/subpath]`` (``fal-ai/flux/schnell``).

Submit ``POST {base}/{model}`` with ``{prompt, image_size, num_images when n > 1}`` -> ``{request_id,
status_url, response_url, cancel_url}``. ``image_size`` is one of fal's presets when the size is exactly one
(square_hd 1024x1024, square 512x512, portrait_4_3 768x1024, portrait_16_9 576x1024, landscape_4_3 1024x768,
landscape_16_9 1024x576), else ``{"width", "height"}``; the ``width_height`` format always sends the object,
``aspect_ratio`` sends ``aspect_ratio`` (models such as flux-pro ultra). A sync base (``https://fal.run``)
answers the submit with the output itself, which is accepted as well.

Input images go as data URIs (fal takes a base64 data URI wherever a file URL is asked for): in
``image_urls`` (a list) for the model ids that take several (containing "/multi", "nano-banana", "seedream"
or "flux-2": Kontext multi, the edit endpoints of those families), else in ``image_url`` (flux/dev
image-to-image, Kontext, fill); a mask in ``mask_url`` (the fill endpoint's), a black-and-white PNG (white =
change, made from OpenAI's transparent = change). Which models take an image at all is the model row's
``input_images``; fal answers an input the model does not have with a 422.

Then ``GET status_url`` (checked, else ``{base}/owner/app/requests/{id}/status``): HTTP 202 while
``IN_QUEUE`` / ``IN_PROGRESS``, 200 ``COMPLETED``; then ``GET response_url`` for ``{"images": [{url, width,
height, content_type}], "has_nsfw_concepts": [...]}``. Images flagged in ``has_nsfw_concepts`` are left out;
when every image is flagged the answer is ContentPolicy. Cancelling is ``PUT cancel_url``.

Errors, decided by ``vendors.errors.classify``; ``detail[].type``, ``error_type`` and the ``X-Fal-Error-Type``
header are read as codes. fal's differences, looked at before the status: ``content_policy_violation`` ->
ContentPolicy (422 is also ordinary validation); an infrastructure type (``request_timeout``,
``startup_timeout``, ``internal_error``, ``generation_timeout``, ``runner_*``) means a 503. The rest is the
common order: 401 and 403 (``User is locked ... Exhausted balance``, admin lock) -> KeyRejected; 429 ->
RateLimited; 5xx -> UpstreamUnavailable; other 422 and 4xx -> BadRequest. The result of a finished job can be
the model's own error, classified the same way, except that what would be UpstreamUnavailable (an
infrastructure type, a 5xx carrying the model's error) is GenerationFailed: the job is over and fal retried
it already; another key may try. An answer there about the key or the queue (401/403/404/408/429, a 5xx
without a body of fal's, a 3xx) is the poll's: retried, or JobLost.
"""

from __future__ import annotations

import base64
import dataclasses
from urllib.parse import quote, urlsplit

import httpx

from vendors import errors
from vendors.adapters.base import ImageRequest, UpstreamImage
from vendors.adapters.inputs import black_and_white_mask, refuse_uncarried
from vendors.adapters.polling import Job, PollAgain, PollingAdapter
from vendors.adapters.probing import amount
from vendors.adapters.reading import Json, as_dict, as_int, as_list, json_body
from vendors.errors import ErrorFacts, ErrorTable, JobLost

PRESETS = {
    (1024, 1024): "square_hd",
    (512, 512): "square",
    (768, 1024): "portrait_4_3",
    (576, 1024): "portrait_16_9",
    (1024, 768): "landscape_4_3",
    (1024, 576): "landscape_16_9",
}
LIST_MODELS = ("/multi", "nano-banana", "seedream", "flux-2")  # model ids whose images go in image_urls
QUEUE_STATUSES = (401, 403, 404, 408, 429)  # a result answer about the key or the queue, not about the job
DONE = "completed"
# The Platform API (billing) lives beside the queue hosts.
PLATFORM_API = "https://api.fal.ai"
QUEUE_HOSTS = ("queue.fal.run", "fal.run")


class FalAdapter(PollingAdapter):
    kind = "fal"
    label = "fal.ai queue (polled)"
    default_size_format = "preset"
    size_field = "image_size"
    batch_limit = 4  # num_images 1-4
    input_image_limit = 10  # our cap on an image_urls list (each image travels inline in the JSON)
    carries_mask = True  # mask_url, the fill endpoint's
    cancel_method = "PUT"
    error_table = ErrorTable(
        codes={
            "content_policy_violation": errors.ContentPolicy,  # detail[].type; 422 is also ordinary validation
            "request_timeout": 503,  # infrastructure error types: retry or fail over
            "startup_timeout": 503,
            "internal_error": 503,
            "generation_timeout": 503,
            "runner_*": 503,  # runner_scheduling_failure, runner_connection_timeout, runner_disconnected, ...
        }
    )

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Key {key}", "Accept": "application/json"}

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The Platform API's billing (on api.fal.ai beside the queue): the account's credit balance.
        base = self.vendor.base_url.rstrip("/")
        root = PLATFORM_API if urlsplit(base).hostname in QUEUE_HOSTS else base
        return [httpx.Request("GET", f"{root}/v1/account/billing?expand=credits", headers=self.auth_headers(key))]

    def probe_verdict(self, response: httpx.Response) -> tuple[bool | None, str, str]:
        # A key made for inference only may not read billing: fal knew the key (an unknown one is a 401). Only
        # fal's own 403 (JSON with a detail) says so; a locked account's 403 refuses the key, a proxy's page is
        # no verdict.
        detail = as_dict(json_body(response)).get("detail")
        if response.status_code == 403 and isinstance(detail, str) and "locked" not in detail.lower():
            return True, "the key is valid; it may not read the account's billing (403)", ""
        return super().probe_verdict(response)

    def probe_summary(self, body: Json) -> str:
        credits = as_dict(as_dict(body).get("credits"))
        balance = amount("balance", credits.get("current_balance"))
        return f"{balance} {credits.get('currency') or 'USD'}" if balance else ""

    def size_fields(self, request: ImageRequest) -> dict[str, Json]:
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
        payload: dict[str, Json] = {"prompt": request.prompt, **self.size_fields(request)}
        if request.n > 1:
            payload["num_images"] = min(request.n, self.max_batch(request))
        payload.update(self._image_inputs(request))
        headers = {**self.auth_headers(key), "Content-Type": "application/json"}
        return httpx.Request("POST", f"{self.vendor.base_url.rstrip('/')}/{path}", headers=headers, json=payload)

    def _image_inputs(self, request: ImageRequest) -> dict[str, Json]:
        many = any(word in request.model.lower() for word in LIST_MODELS)
        refuse_uncarried(request, most=self.input_image_limit if many else 1, mask=True, model=request.model)
        urls = [image.data_url() for image in request.images]
        inputs: dict[str, Json] = ({"image_urls": urls} if many else {"image_url": urls[0]}) if urls else {}
        if request.mask is not None:
            inputs["mask_url"] = (
                "data:image/png;base64," + base64.b64encode(black_and_white_mask(request.mask)).decode()
            )
        return inputs

    async def submit(
        self, client: httpx.AsyncClient, request: ImageRequest, key: str, deadline: float
    ) -> Job | list[UpstreamImage]:
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

    def result_error(self, response: httpx.Response, body: Json, job: Job) -> errors.UpstreamError:
        """A finished job whose result is an error: the model's own, classified; or an answer about the key or
        the queue rather than the job, which is the poll's (retried, or JobLost)."""
        error, status = self.classify_error(response), response.status_code
        if isinstance(error, errors.ContentPolicy):
            return error
        if status < 400 or status in QUEUE_STATUSES or (status >= 500 and not isinstance(body, dict)):
            return self.poll_error(response, job)
        if isinstance(error, errors.UpstreamUnavailable):  # the job is over; fal retried it already
            failed = "the job failed: {}"
            return errors.GenerationFailed(
                failed.format(error.message), detail=failed.format(error.detail), vendor_status=status
            )
        return error

    def images(self, body: dict[str, Json], response: httpx.Response) -> list[UpstreamImage]:
        items = body.get("images")
        if not isinstance(items, list):
            items = [body["image"]] if isinstance(body.get("image"), dict) else []
        flags, seed = as_list(body.get("has_nsfw_concepts")), as_int(body.get("seed"))
        images, flagged = [], 0
        for index, item in enumerate(items):
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

    def error_facts(self, response: httpx.Response, body: Json) -> ErrorFacts:
        facts = super().error_facts(response, body)
        header = response.headers.get("x-fal-error-type", "").strip().lower()
        return dataclasses.replace(facts, codes=facts.codes | {header}) if header else facts


def _image(item: Json, seed: int | None) -> UpstreamImage | None:
    url = item.get("url") if isinstance(item, dict) else item
    if not isinstance(url, str) or not url:
        return None
    content_type = item.get("content_type") if isinstance(item, dict) else None
    content_type = content_type if isinstance(content_type, str) else None
    if url.startswith("data:"):  # sync_mode returns the image inline
        return UpstreamImage(b64=url, content_type=content_type, seed=seed)
    return UpstreamImage(url=url, content_type=content_type, seed=seed)
