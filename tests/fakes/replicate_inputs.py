"""The image inputs of the fake Replicate (``tests.fakes.replicate``): each model's fields, the files API.

Mixed into ``ReplicateFake``; see its docstring for what is refused and how.
"""

from __future__ import annotations

from aiohttp import web

from tests.fakes.inputs import image_format, read_image
from tests.fakes.server import bearer
from tests.fakes.siliconflow import _json
from tests.fakes.stability import parse_form


def problem(status: int, title: str, detail: str, **extra) -> web.Response:
    return _json(status, {"title": title, "detail": detail, "status": status, **extra})


# The image inputs of the models the fake knows: field -> whether it takes a list. Other models take none.
IMAGE_INPUTS: dict[str, dict[str, bool]] = {
    "black-forest-labs/flux-dev": {"image": False},
    "black-forest-labs/flux-1.1-pro": {"image_prompt": False},
    "black-forest-labs/flux-1.1-pro-ultra": {"image_prompt": False},
    "black-forest-labs/flux-kontext-pro": {"input_image": False},
    "black-forest-labs/flux-kontext-max": {"input_image": False},
    "black-forest-labs/flux-fill-pro": {"image": False, "mask": False},
    "black-forest-labs/flux-2-pro": {"input_images": True},
}
IMAGE_FIELD_NAMES = ("image", "image_prompt", "input_image", "input_images", "image_input", "mask")
DATA_URL_LIMIT = 1_000_000


def invalid_input(field: str, kind: str, description: str) -> web.Response:
    return problem(
        422,
        "Input validation failed",
        f"- input.{field}: {description}",
        invalid_fields=[{"type": kind, "field": f"input.{field}", "description": description}],
    )


class ImageInputs:
    """Needs ``url``, ``received_images`` and ``received_masks`` (``VendorFake``); keeps ``files``."""

    files: dict[str, bytes]

    async def upload(self, request: web.Request) -> web.Response:
        if not bearer(request):
            return problem(401, "Unauthenticated", "You did not pass an authentication token")
        form = parse_form(request.headers.get("Content-Type", ""), await request.read()) or {}
        content = form.get("content")
        if not isinstance(content, bytes):
            return problem(400, "Bad request", "content: a file is required")
        file_id = f"file{len(self.files) + 1:04d}"
        self.files[file_id] = content
        url = f"{self.url}/v1/files/{file_id}"
        return _json(201, {"id": file_id, "size": len(self.files[file_id]), "urls": {"get": url}})

    def _refused_images(self, request: web.Request, model_input: dict) -> web.Response | None:
        takes = IMAGE_INPUTS.get(f"{request.match_info.get('owner')}/{request.match_info.get('name')}", {})
        images: list[bytes] = []
        for field in (name for name in IMAGE_FIELD_NAMES if name in model_input):
            if field not in takes:
                return invalid_input(
                    field, "additional_property_not_allowed", f"Additional property {field} is not allowed"
                )
            values = model_input[field]
            if isinstance(values, list) is not takes[field]:
                wanted = "array" if takes[field] else "string"
                return invalid_input(field, "invalid_type", f"Invalid type. Expected: {wanted}")
            for value in values if takes[field] else [values]:
                data, reason = self._file(value)
                if reason:
                    return invalid_input(field, "format", f"{field} {reason}")
                (self.received_masks.append if field == "mask" else images.append)(data)
        self.received_images.append(images)
        return None

    def _file(self, value: object) -> tuple[bytes | None, str | None]:
        prefix = f"{self.url}/v1/files/"
        if isinstance(value, str) and value.startswith(prefix):
            data = self.files.get(value.removeprefix(prefix))
            return (data, None) if data and image_format(data) else (None, "is not a stored image file")
        if isinstance(value, str) and len(value) > DATA_URL_LIMIT and value.startswith("data:"):
            return None, "is a data URL over 1 MB: upload the file instead"
        data, reason = read_image(value, data_url=True)
        return data, (f"does not match format uri ({reason})" if reason else None)
