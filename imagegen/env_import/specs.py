"""Reading the seed's environment variables into specs: what the rows should be, checked, nothing written."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from imagegen.models import OptimizerSettings
from vendors.adapters import image_kinds
from vendors.adapters.chat_image import ChatImageAdapter
from vendors.adapters.openai_chat import OpenAIChatAdapter
from vendors.adapters.siliconflow import SiliconFlowAdapter
from vendors.validation import validate_http_url

FLUX_KIND = SiliconFlowAdapter.kind
DEFAULT_IMAGE_GEN_KIND = ChatImageAdapter.kind
OPTIMIZER_KIND = OpenAIChatAdapter.kind
DEFAULT_OPENAI_BASE = "https://api.openai.com/v1"
IMAGE_GEN_BASE_RE = re.compile(r"^IMAGE_GEN_API_BASE_(\d+)$")


@dataclass
class ModelSpec:
    name: str
    upstream: str | None  # None: the entry named no upstream name, so leave the row's as it is
    source: str


@dataclass
class VendorSpec:
    name: str
    kind: str
    base_url: str
    base_var: str
    keys_var: str
    keys: list[str]
    models: list[ModelSpec] = field(default_factory=list)
    kind_var: str = ""  # the variable naming the kind; "" when the variable family fixes it


@dataclass
class OptimizerSpec:
    mode: str
    model: str
    model_var: str
    vendor: VendorSpec


def value(name: str) -> str:
    return os.environ.get(name, "").strip()


def _items(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _keys(name: str) -> list[str]:
    return list(dict.fromkeys(_items(name)))


def _url(var: str, url: str) -> str:
    try:
        validate_http_url(url)
    except ValidationError:
        raise CommandError(f"{var} must be an http:// or https:// URL with a host.") from None
    return url


def _models(var: str) -> list[ModelSpec]:
    specs = []
    for entry in _items(var):
        name, sep, upstream = (part.strip() for part in entry.partition("="))
        if not name or (sep and not upstream):
            raise CommandError(f"{var} has the entry {entry!r}; use 'name' or 'public=upstream'.")
        specs.append(ModelSpec(name=name, upstream=upstream if sep else None, source=var))
    return specs


def _image_kind(var: str) -> str:
    kind = value(var) or DEFAULT_IMAGE_GEN_KIND
    if kind not in image_kinds():
        raise CommandError(f"{var}={kind!r} is not an image vendor kind; use one of: {', '.join(image_kinds())}.")
    return kind


def read_image_vendors() -> tuple[list[VendorSpec], str]:
    """The FLUX_GEN_* vendor and the IMAGE_GEN_*_n ones, and a warning for numbers after a gap ("" if none)."""
    flux = _read_vendor("siliconflow", FLUX_KIND, "FLUX_GEN_API_BASE", "FLUX_GEN_MODEL", "FLUX_GEN_API_KEY")
    vendors = [flux] if flux is not None else []
    n = 1
    while value(f"IMAGE_GEN_API_BASE_{n}"):
        kind = _image_kind(f"IMAGE_GEN_KIND_{n}")
        names = (f"IMAGE_GEN_API_BASE_{n}", f"IMAGE_GEN_MODEL_{n}", f"IMAGE_GEN_API_KEY_{n}")
        vendor = _read_vendor(f"image-gen-{n}", kind, *names)
        vendor.kind_var = f"IMAGE_GEN_KIND_{n}"
        vendors.append(vendor)
        n += 1
    return vendors, _numbering_gap_warning(n)


def _numbering_gap_warning(first_missing: int) -> str:
    skipped = sorted(
        int(match[1]) for var in os.environ if (match := IMAGE_GEN_BASE_RE.match(var)) and int(match[1]) > first_missing
    )
    if not skipped:
        return ""
    ignored = ", ".join(f"IMAGE_GEN_API_BASE_{i}" for i in skipped)
    return (
        f"Ignored {ignored}: numbering stops at the first missing IMAGE_GEN_API_BASE_n "
        f"(IMAGE_GEN_API_BASE_{first_missing} is not set)."
    )


def _read_vendor(name: str, kind: str, base_var: str, model_var: str, keys_var: str) -> VendorSpec | None:
    base, models, keys = value(base_var), _models(model_var), _keys(keys_var)
    if not base:
        if models or keys:
            set_vars = " and ".join(var for var, listed in ((model_var, models), (keys_var, keys)) if listed)
            raise CommandError(f"{set_vars} set but {base_var} is not: set the vendor's API base too.")
        return None
    if not models:
        raise CommandError(f"{base_var} is set but {model_var} lists no model.")
    if not keys:
        raise CommandError(f"{base_var} is set but {keys_var} lists no key.")
    url = _url(base_var, base)
    return VendorSpec(name, kind, url, base_var=base_var, keys_var=keys_var, keys=keys, models=models)


def read_optimizer() -> OptimizerSpec | None:
    fast, reasoning = value("OPENAI_MODEL"), value("OPENAI_MODEL_REASONING")
    if fast and reasoning:
        raise CommandError(
            "Both OPENAI_MODEL (fast mode) and OPENAI_MODEL_REASONING (reasoning mode) are set; set only one."
        )
    if not fast and not reasoning:
        return None
    model_var = "OPENAI_MODEL" if fast else "OPENAI_MODEL_REASONING"
    keys = _keys("OPENAI_API_KEY")
    if not keys:
        raise CommandError(f"{model_var} is set but OPENAI_API_KEY lists no key.")
    base = _url("OPENAI_API_BASE", value("OPENAI_API_BASE") or DEFAULT_OPENAI_BASE)
    vendor = VendorSpec(
        "optimizer", OPTIMIZER_KIND, base, base_var="OPENAI_API_BASE", keys_var="OPENAI_API_KEY", keys=keys
    )
    mode = OptimizerSettings.Mode.FAST if fast else OptimizerSettings.Mode.REASONING
    return OptimizerSpec(mode=mode, model=fast or reasoning, model_var=model_var, vendor=vendor)


def openai_set_without_model() -> bool:
    """OPENAI_API_* is set but names no optimizer model, so the optimizer is left alone."""
    has_model = value("OPENAI_MODEL") or value("OPENAI_MODEL_REASONING")
    return not has_model and bool(value("OPENAI_API_KEY") or value("OPENAI_API_BASE"))


def check_unique_models(vendors: list[VendorSpec]) -> None:
    seen: dict[str, ModelSpec] = {}
    for vendor in vendors:
        for model in vendor.models:
            first = seen.setdefault(model.name, model)
            if first is model:
                continue
            if first.source == model.source:
                raise CommandError(f"Model {model.name!r} is listed twice in {model.source}.")
            raise CommandError(
                f"Model {model.name!r} is listed in both {first.source} and {model.source}; "
                "a model name must belong to one vendor."
            )
