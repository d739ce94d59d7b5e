"""Replicate predictions: https://replicate.com/docs/topics/predictions/create-a-prediction

Base URL ``https://api.replicate.com/v1`` (a base without ``/v1`` works too). Bearer key (``r8_...``).

Create, by the upstream model name:

- ``owner/name`` (official models) -> ``POST {base}/models/owner/name/predictions``
- a 64-hex version id, or ``owner/name:<version>`` -> ``POST {base}/predictions`` with ``{"version": id}``
- ``deployments/owner/name`` -> ``POST {base}/deployments/owner/name/predictions``

Body ``{"input": {prompt, aspect_ratio (the default size format), num_outputs when n > 1}}``; with the
``width_height`` format it sends ``aspect_ratio: "custom"`` plus width and height (FLUX's convention; models
without those inputs ignore them). Headers ``Prefer: wait=N`` (N <= 60 and well inside the vendor timeout,
so quick models answer in one call) and ``Cancel-After`` (the vendor timeout, so a prediction we lose track
of stops on its own). An unfinished answer is polled at ``urls.get`` (checked, else
``{base}/predictions/{id}``); cancelling posts to ``urls.cancel``.

Input images go in the model's own input field, known by a per-family rule on the model name (Replicate's
models each name theirs): a name containing "kontext" -> ``input_image``; "flux-1.1-pro" (and its ultra) ->
``image_prompt``; "flux-2" -> ``input_images`` (a list); "nano-banana" or "seedream" -> ``image_input`` (a
list); any other -> ``image`` (flux-dev, the flux-fill models, most image-to-image models). A mask goes in
``mask`` as a black-and-white PNG (white = change). Each file is a data URL when under 1 MB (Replicate
recommends data URLs only below that), else it is first uploaded to ``POST {base}/files`` (multipart
``content``; free, no prediction yet) and the file's ``urls.get`` is sent instead.

The prediction: ``status`` starting -> processing -> succeeded | failed | canceled | aborted; ``output`` is
one URL or a list of URLs. A non-empty output counts while still ``processing`` (once it holds as many
images as asked for). ``failed`` with safety-checker wording (NSFW) -> ContentPolicy; other ``failed``,
``canceled`` and ``aborted`` -> GenerationFailed (the prediction is over; another key may try).

HTTP errors are problem details ``{"title", "detail", "status"}`` (the message adds the invalid fields),
decided by ``vendors.errors.classify``. Replicate's differences: an unexplained 403 is BadRequest (no access to
the model is a configuration matter; one naming the key or credit is KeyRejected by the common order); a 404
says "model or version not found"; a 429's wait is the detail's "Expected available in N seconds", else
Retry-After. The rest is the common order: 401/402 -> KeyRejected, 422 -> BadRequest, 429 -> RateLimited,
408/5xx -> UpstreamUnavailable.
"""

from __future__ import annotations

import dataclasses
import math
import re
from urllib.parse import quote

import httpx

from core.redaction import admin_text
from vendors import errors
from vendors.adapters.base import ImageRequest, InputImage, UpstreamImage, bearer_headers
from vendors.adapters.inputs import black_and_white_mask, refuse_uncarried
from vendors.adapters.polling import Job, PollAgain, PollingAdapter
from vendors.adapters.reading import Json, as_dict, json_body
from vendors.errors import ErrorFacts, ErrorTable, JobLost, mentions_moderation

VERSION = re.compile(r"^[0-9a-f]{64}$")
MODEL = re.compile(r"^(deployments/)?([\w.-]+)/([\w.-]+)(?::([0-9a-f]{64}))?$")
THROTTLED = re.compile(r"available in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
MAX_WAIT = 60  # Prefer: wait accepts 1-60 s
UNFINISHED = ("starting", "processing", "")
# (a word of the model name, the input field its images go in, whether the field is a list); else "image".
IMAGE_FIELDS = (
    ("kontext", "input_image", False),
    ("flux-1.1-pro", "image_prompt", False),
    ("flux-2", "input_images", True),
    ("nano-banana", "image_input", True),
    ("seedream", "image_input", True),
)
DATA_URL_LIMIT = 1_000_000  # bytes: larger files are uploaded to the files API first


def image_field(model: str) -> tuple[str, bool]:
    """The input field a Replicate model takes its images in, and whether it is a list (see the docstring)."""
    name = model.lower()
    return next(((field, many) for word, field, many in IMAGE_FIELDS if word in name), ("image", False))


class ReplicateAdapter(PollingAdapter):
    kind = "replicate"
    label = "Replicate predictions (polled)"
    default_size_format = "aspect_ratio"
    batch_limit = 4  # num_outputs 1-4 on the FLUX models
    input_image_limit = 8  # the list fields (flux-2's input_images takes 8); single fields take one
    carries_mask = True
    error_table = ErrorTable(forbidden=errors.BadRequest, not_found_hint="model or version not found")

    def api(self, path: str) -> str:
        root = self.vendor.base_url.rstrip("/")
        root = root.removesuffix("/v1")
        return f"{root}/v1/{path.lstrip('/')}"

    def auth_headers(self, key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}", "Accept": "application/json"}

    def probe_requests(self, key: str) -> list[httpx.Request]:
        # The account the token belongs to.
        return [httpx.Request("GET", self.api("account"), headers=self.auth_headers(key))]

    def probe_summary(self, body: Json) -> str:
        body = as_dict(body)
        name, kind = body.get("username"), body.get("type")
        return f"account {name} ({kind})" if isinstance(name, str) and isinstance(kind, str) else ""

    def size_fields(self, request: ImageRequest) -> dict[str, Json]:
        if (request.size_format or self.default_size_format) == "width_height":
            return {"aspect_ratio": "custom", "width": request.width, "height": request.height}
        if (request.size_format or self.default_size_format) == "size":  # Replicate models have no WxH string
            return {"aspect_ratio": request.aspect_ratio}
        return super().size_fields(request)

    def build_request(self, request: ImageRequest, key: str, files: dict[int, str] | None = None) -> httpx.Request:
        """The create request; ``files`` holds the uploaded URL of each large input file, by its index in
        ``request.images`` (the mask's index is ``len(request.images)``), the others go as data URLs."""
        url, version = self._create_target(request.model)
        model_input: dict[str, Json] = {"prompt": request.prompt, **self.size_fields(request)}
        if request.n > 1:
            model_input["num_outputs"] = min(request.n, self.max_batch(request))
        model_input.update(self._image_inputs(request, files or {}))
        payload: dict[str, Json] = {"input": model_input}
        if version:
            payload["version"] = version
        headers = bearer_headers(key)
        wait = min(MAX_WAIT, math.floor(self.vendor.timeout * 0.75))
        if wait >= 1:  # the rest of the budget is left for polls and the cancel
            headers["Prefer"] = f"wait={wait}"
        headers["Cancel-After"] = f"{max(5, math.ceil(self.vendor.timeout))}s"
        return httpx.Request("POST", url, headers=headers, json=payload)

    def _image_inputs(self, request: ImageRequest, files: dict[int, str]) -> dict[str, Json]:
        field, many = image_field(request.model)
        refuse_uncarried(request, most=self.input_image_limit if many else 1, mask=True, model=request.model)
        refs = [files.get(index) or image.data_url() for index, image in enumerate(request.images)]
        inputs: dict[str, Json] = {field: refs if many else refs[0]} if refs else {}
        if request.mask is not None:
            inputs["mask"] = files.get(len(refs)) or _mask_file(request.mask).data_url()
        return inputs

    async def _upload_large(
        self, client: httpx.AsyncClient, request: ImageRequest, key: str, deadline: float
    ) -> dict[int, str]:
        """Upload each input file of 1 MB or more to the files API; their URLs by index (see build_request).
        A mask is converted only when it goes this way (its black-and-white PNG is never larger)."""
        files = list(enumerate(request.images))
        if request.mask is not None and len(request.mask.data) >= DATA_URL_LIMIT:
            files.append((len(request.images), _mask_file(request.mask)))
        uploaded = {}
        for index, image in files:
            if len(image.data) >= DATA_URL_LIMIT:
                uploaded[index] = await self._upload(client, image, f"input-{index}", key, deadline)
        return uploaded

    async def _upload(self, client: httpx.AsyncClient, image: InputImage, name: str, key: str, deadline: float) -> str:
        """One file stored by the files API (free: no prediction yet), and the URL a model input takes it by."""
        content = (f"{name}.{image.content_type.split('/')[1]}", image.data, image.content_type)
        upload = httpx.Request("POST", self.api("files"), headers=self.auth_headers(key), files={"content": content})
        answer = as_dict(json_body(await self.send_submit(client, upload, deadline)))
        url = as_dict(answer.get("urls")).get("get")
        if not isinstance(url, str) or not url:
            raise errors.UpstreamUnavailable("the vendor stored an input file but gave no URL for it")
        return url

    def _create_target(self, model: str) -> tuple[str, str | None]:
        model = model.strip()
        if VERSION.match(model):
            return self.api("predictions"), model
        match = MODEL.match(model)
        if match is None:
            raise errors.BadRequest(
                "the model name must be owner/name, owner/name:<64-hex version> or a version id", vendor_status=None
            )
        deployment, owner, name, version = match.groups()
        if version:
            return self.api("predictions"), version
        prefix = "deployments" if deployment else "models"
        return self.api(f"{prefix}/{quote(owner)}/{quote(name)}/predictions"), None

    async def submit(
        self, client: httpx.AsyncClient, request: ImageRequest, key: str, deadline: float
    ) -> Job | list[UpstreamImage]:
        files = await self._upload_large(client, request, key, deadline)
        response = await self.send_submit(client, self.build_request(request, key, files), deadline)
        prediction = self.submitted_body(response)
        job_id = prediction.get("id")
        wanted = min(request.n, self.max_batch(request))
        job = Job(id=str(job_id or ""), deadline=deadline, poll_url="", wanted=wanted)
        if isinstance(job_id, str) and job_id:
            urls = as_dict(prediction.get("urls"))
            own = self.api(f"predictions/{quote(job_id, safe='')}")
            job.poll_url = self.follow(urls.get("get") or response.headers.get("location"), own)
            job.cancel_url = self.follow(urls.get("cancel"), own + "/cancel")
        images = self.read(prediction, job, key)
        if images is not None:
            return images
        if not job.poll_url:
            raise JobLost("the vendor accepted the prediction but gave no id to follow it by", vendor_status=200)
        return job

    async def poll(self, client: httpx.AsyncClient, job: Job, key: str) -> list[UpstreamImage] | None:
        response = await self.fetch(client, httpx.Request("GET", job.poll_url, headers=self.auth_headers(key)), job)
        if response.status_code >= 400:
            raise self.poll_error(response, job)
        prediction = json_body(response)
        if not isinstance(prediction, dict):
            raise PollAgain("the prediction could not be read")
        return self.read(prediction, job, key)

    def read(self, prediction: dict[str, Json], job: Job, key: str) -> list[UpstreamImage] | None:
        """The images of a prediction, None while it runs; raises for one that ended without images."""
        status = str(prediction.get("status") or "").lower()
        urls = _output_urls(prediction.get("output"))
        if status == "succeeded":
            if urls:
                return [_image(url) for url in urls]
            removed = " (its files were already removed)" if prediction.get("data_removed") else ""
            raise errors.GenerationFailed(f"the prediction succeeded without an image{removed}", vendor_status=200)
        if status == "failed":
            message = _error_text(prediction.get("error"), key) or "the prediction failed"
            if mentions_moderation(message):  # the safety checker; a job state, not an HTTP answer
                raise errors.ContentPolicy.from_vendor(message, vendor_status=200)
            raise errors.GenerationFailed.from_vendor(message, vendor_status=200)
        if status in ("canceled", "cancelled", "aborted"):
            raise errors.GenerationFailed(f"the prediction was {status} by the vendor", vendor_status=200)
        if status in UNFINISHED and urls and len(urls) >= job.wanted:
            return [_image(url) for url in urls]
        return None

    def error_facts(self, response: httpx.Response, body: Json) -> ErrorFacts:
        facts = super().error_facts(response, body)
        message = _with_invalid_fields(facts.message, body)
        throttled = THROTTLED.search(message)
        retry_after = float(throttled.group(1)) if throttled else facts.retry_after
        return dataclasses.replace(facts, message=message, retry_after=retry_after)


def _mask_file(mask: InputImage) -> InputImage:
    """The mask as Replicate's models take it: black and white, white = change."""
    return InputImage(black_and_white_mask(mask), "image/png", mask.width, mask.height)


def _output_urls(output: Json) -> list[str]:
    if isinstance(output, str):
        output = [output]
    if not isinstance(output, list):
        return []
    return [item for item in output if isinstance(item, str) and item.startswith(("https://", "http://", "data:"))]


def _image(url: str) -> UpstreamImage:
    return UpstreamImage(b64=url) if url.startswith("data:") else UpstreamImage(url=url)


def _error_text(error: Json, key: str) -> str:
    if isinstance(error, dict):
        error = error.get("detail") or error.get("message") or error.get("title")
    if not isinstance(error, str):
        return ""
    return admin_text(error, key)


def _with_invalid_fields(message: str, body: Json) -> str:
    """The problem's message, followed by the descriptions of its first ``invalid_fields``."""
    fields = body.get("invalid_fields") if isinstance(body, dict) else None
    if not isinstance(fields, list):
        return message
    notes = [str(item.get("description")) for item in fields[:3] if isinstance(item, dict)]
    notes = [note for note in notes if note and note != "None"]
    return admin_text(f"{message}: {'; '.join(notes)}") if notes else message
