"""Turn the seed's environment variables into Vendor, ImageModel, VendorKey and optimizer rows."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from imagegen.models import OptimizerSettings
from vendors import crypto
from vendors.adapters import image_kinds
from vendors.models import ImageModel, Vendor, VendorKey, validate_http_url

DEFAULT_OPENAI_BASE = "https://api.openai.com/v1"
IMAGE_GEN_BASE_RE = re.compile(r"^IMAGE_GEN_API_BASE_(\d+)$")

HELP = """\
Create or update vendors, image models, vendor keys and the prompt optimizer from environment variables.

  FLUX_GEN_API_BASE, FLUX_GEN_MODEL, FLUX_GEN_API_KEY
      -> vendor "siliconflow" (kind siliconflow). The base may be an API base or a full endpoint URL.
  IMAGE_GEN_API_BASE_n, IMAGE_GEN_MODEL_n, IMAGE_GEN_API_KEY_n, IMAGE_GEN_KIND_n for n = 1, 2, ...
      -> vendor "image-gen-<n>" of kind IMAGE_GEN_KIND_n (default chat_image; any image kind: {kinds});
      numbering stops at the first missing IMAGE_GEN_API_BASE_n.
  OPENAI_API_BASE (default https://api.openai.com/v1), OPENAI_API_KEY, and OPENAI_MODEL (fast mode) or
  OPENAI_MODEL_REASONING (reasoning mode)
      -> vendor "optimizer" (kind openai_chat) and the prompt optimizer settings.

Models and keys are comma-separated lists; spaces around items and empty items are ignored. A model entry
"public=upstream" publishes the name "public" and sends "upstream" to the vendor.

Running it again with the same environment changes nothing. Keys and models already in the database but not
in the environment are left as they are (they may have been added in admin). Model names must be unique
across all vendors. Any error writes nothing.
"""


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


@dataclass
class OptimizerSpec:
    mode: str
    model: str
    vendor: VendorSpec


def _value(name: str) -> str:
    return os.environ.get(name, "").strip()


def _items(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def _url(var: str, value: str) -> str:
    try:
        validate_http_url(value)
    except ValidationError:
        raise CommandError(f"{var} must be an http:// or https:// URL with a host.") from None
    return value


def _models(var: str) -> list[ModelSpec]:
    specs = []
    for entry in _items(var):
        name, sep, upstream = (part.strip() for part in entry.partition("="))
        if not name or (sep and not upstream):
            raise CommandError(f"{var} has the entry {entry!r}; use 'name' or 'public=upstream'.")
        specs.append(ModelSpec(name=name, upstream=upstream if sep else None, source=var))
    return specs


def _image_kind(var: str) -> str:
    kind = _value(var) or "chat_image"
    if kind not in image_kinds():
        raise CommandError(f"{var}={kind!r} is not an image vendor kind; use one of: {', '.join(image_kinds())}.")
    return kind


def _unique_keys(raw_keys: list[str]) -> list[str]:
    return list(dict.fromkeys(raw_keys))


class Command(BaseCommand):
    @property
    def help(self):
        return HELP.replace("{kinds}", ", ".join(image_kinds()))

    def create_parser(self, prog_name, subcommand, **kwargs):
        from django.core.management.base import DjangoHelpFormatter

        class Formatter(DjangoHelpFormatter):
            def _fill_text(self, text, width, indent):  # keep the help's line breaks
                return "".join(indent + line for line in text.splitlines(keepends=True))

        kwargs["formatter_class"] = Formatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check and report, but write nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        vendors = self.read_image_vendors()
        optimizer = self.read_optimizer()
        if optimizer is not None:
            vendors.append(optimizer.vendor)
        self.check_unique_models(vendors)
        if not vendors:
            self.stdout.write("No FLUX_GEN_*, IMAGE_GEN_*_n or OPENAI_MODEL* variables are set: nothing to import.")
            return
        self.changed = False
        with transaction.atomic():
            rows = {spec.name: self.apply_vendor(spec) for spec in vendors}
            if optimizer is not None:
                self.apply_optimizer(optimizer, rows[optimizer.vendor.name])
            if dry_run:
                transaction.set_rollback(True)
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        elif not self.changed:
            self.stdout.write(self.style.SUCCESS("Everything is unchanged."))
        else:
            self.stdout.write(self.style.SUCCESS("Import done."))

    # --- reading the environment ------------------------------------------------------------

    def read_image_vendors(self) -> list[VendorSpec]:
        vendors = []
        flux = self.read_vendor(
            name="siliconflow",
            kind="siliconflow",
            base_var="FLUX_GEN_API_BASE",
            model_var="FLUX_GEN_MODEL",
            keys_var="FLUX_GEN_API_KEY",
        )
        if flux is not None:
            vendors.append(flux)
        n = 1
        while _value(f"IMAGE_GEN_API_BASE_{n}"):
            vendors.append(
                self.read_vendor(
                    name=f"image-gen-{n}",
                    kind=_image_kind(f"IMAGE_GEN_KIND_{n}"),
                    base_var=f"IMAGE_GEN_API_BASE_{n}",
                    model_var=f"IMAGE_GEN_MODEL_{n}",
                    keys_var=f"IMAGE_GEN_API_KEY_{n}",
                )
            )
            n += 1
        skipped = sorted(
            (int(match[1]) for var in os.environ if (match := IMAGE_GEN_BASE_RE.match(var)) and int(match[1]) > n),
        )
        if skipped:
            ignored = ", ".join(f"IMAGE_GEN_API_BASE_{i}" for i in skipped)
            self.stderr.write(
                self.style.WARNING(
                    f"Ignored {ignored}: numbering stops at the first missing IMAGE_GEN_API_BASE_n "
                    f"(IMAGE_GEN_API_BASE_{n} is not set)."
                )
            )
        return vendors

    def read_vendor(self, *, name, kind, base_var, model_var, keys_var) -> VendorSpec | None:
        base, models, keys = _value(base_var), _models(model_var), _unique_keys(_items(keys_var))
        if not base:
            if models or keys:
                set_vars = " and ".join(var for var, value in ((model_var, models), (keys_var, keys)) if value)
                raise CommandError(f"{set_vars} set but {base_var} is not: set the vendor's API base too.")
            return None
        if not models:
            raise CommandError(f"{base_var} is set but {model_var} lists no model.")
        if not keys:
            raise CommandError(f"{base_var} is set but {keys_var} lists no key.")
        return VendorSpec(
            name=name,
            kind=kind,
            base_url=_url(base_var, base),
            base_var=base_var,
            keys_var=keys_var,
            keys=keys,
            models=models,
        )

    def read_optimizer(self) -> OptimizerSpec | None:
        fast, reasoning = _value("OPENAI_MODEL"), _value("OPENAI_MODEL_REASONING")
        if fast and reasoning:
            raise CommandError(
                "Both OPENAI_MODEL (fast mode) and OPENAI_MODEL_REASONING (reasoning mode) are set; set only one."
            )
        if not fast and not reasoning:
            if _value("OPENAI_API_KEY") or _value("OPENAI_API_BASE"):
                self.stdout.write(
                    "OPENAI_API_* is set but neither OPENAI_MODEL nor OPENAI_MODEL_REASONING: "
                    "the prompt optimizer is left as it is."
                )
            return None
        model_var = "OPENAI_MODEL" if fast else "OPENAI_MODEL_REASONING"
        keys = _unique_keys(_items("OPENAI_API_KEY"))
        if not keys:
            raise CommandError(f"{model_var} is set but OPENAI_API_KEY lists no key.")
        base = _value("OPENAI_API_BASE") or DEFAULT_OPENAI_BASE
        vendor = VendorSpec(
            name="optimizer",
            kind="openai_chat",
            base_url=_url("OPENAI_API_BASE", base),
            base_var="OPENAI_API_BASE",
            keys_var="OPENAI_API_KEY",
            keys=keys,
        )
        mode = OptimizerSettings.Mode.FAST if fast else OptimizerSettings.Mode.REASONING
        return OptimizerSpec(mode=mode, model=fast or reasoning, vendor=vendor)

    def check_unique_models(self, vendors: list[VendorSpec]) -> None:
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

    # --- writing rows -----------------------------------------------------------------------

    def apply_vendor(self, spec: VendorSpec) -> Vendor:
        vendor = Vendor.objects.filter(name=spec.name).first()
        if vendor is None:
            vendor = Vendor(name=spec.name, kind=spec.kind, base_url=spec.base_url)
            self.validate(vendor, spec.base_var)
            vendor.save()
            state = "created"
        elif vendor.kind != spec.kind and not {vendor.kind, spec.kind} <= set(image_kinds()):
            raise CommandError(
                f"Vendor {spec.name!r} exists in the database as a {vendor.kind} vendor, but {spec.base_var} "
                f"configures a {spec.kind} vendor; rename or delete that vendor in admin first."
            )
        elif vendor.base_url != spec.base_url or vendor.kind != spec.kind:
            changed = [
                what
                for what, differs in (
                    ("kind", vendor.kind != spec.kind),
                    ("base URL", vendor.base_url != spec.base_url),
                )
                if differs
            ]
            vendor.base_url, vendor.kind = spec.base_url, spec.kind
            self.validate(vendor, spec.base_var)
            vendor.save(update_fields=["base_url", "kind", "updated_at"])
            state = f"{' and '.join(changed)} updated from the environment"
        else:
            state = "unchanged"

        created = updated = unchanged = 0
        for model in spec.models:
            row = ImageModel.objects.filter(name=model.name).select_related("vendor").first()
            if row is not None and row.vendor_id != vendor.pk:
                raise CommandError(
                    f"Model {model.name!r} from {model.source} is already served by vendor {row.vendor.name!r} "
                    "in the database; a model name must belong to one vendor."
                )
            if row is None:
                row = ImageModel(vendor=vendor, name=model.name, upstream_name=model.upstream or "")
                self.validate(row, model.source)
                row.save()
                created += 1
            elif model.upstream is not None and row.upstream_name != model.upstream:
                row.upstream_name = model.upstream
                self.validate(row, model.source)
                row.save(update_fields=["upstream_name"])
                updated += 1
            else:
                unchanged += 1
        env_names = {model.name for model in spec.models}
        other_models = vendor.models.exclude(name__in=env_names).count()

        stored = set(vendor.keys.values_list("fingerprint", flat=True))
        env_fingerprints = set()
        added: list[str] = []
        for raw in spec.keys:
            fingerprint = crypto.fingerprint(raw)
            env_fingerprints.add(fingerprint)
            if fingerprint in stored:
                continue
            key = VendorKey(vendor=vendor)
            key.secret = raw
            key.save()
            stored.add(fingerprint)
            added.append(key.masked)
        other_keys = len(stored - env_fingerprints)

        changes = [f"{count} model(s) {verb}" for count, verb in ((created, "created"), (updated, "updated")) if count]
        if added:
            changes.append(f"{len(added)} key(s) added ({', '.join(added)})")
        if state == "unchanged" and not changes:
            listed = [f"{len(spec.models)} model(s)"] if spec.models else []
            listed.append(f"{len(spec.keys)} key(s)")
            summary = f"unchanged ({' and '.join(listed)} from the environment)"
        else:
            self.changed = True
            summary = "; ".join([state, *changes]) if state != "unchanged" else "; ".join(changes)
            if unchanged or len(spec.keys) > len(added):
                summary += f"; {unchanged} model(s) and {len(spec.keys) - len(added)} key(s) unchanged"
        self.stdout.write(f"Vendor {spec.name!r} ({spec.kind}): {summary}.")
        others = [f"{count} {noun}(s)" for count, noun in ((other_models, "model"), (other_keys, "key")) if count]
        if others:
            self.stdout.write(
                f"  {' and '.join(others)} of {spec.name!r} not in the environment were left as they are."
            )
        return vendor

    def apply_optimizer(self, spec: OptimizerSpec, vendor: Vendor) -> None:
        row, created = OptimizerSettings.objects.get_or_create(pk=1)
        if not created and (row.mode, row.vendor_id, row.model) == (spec.mode, vendor.pk, spec.model):
            self.stdout.write(f"Prompt optimizer: unchanged ({row.mode} mode, model {row.model!r}).")
            return
        row.mode, row.vendor, row.model = spec.mode, vendor, spec.model
        model_var = "OPENAI_MODEL" if spec.mode == OptimizerSettings.Mode.FAST else "OPENAI_MODEL_REASONING"
        self.validate(row, model_var)
        row.save()
        self.changed = True
        self.stdout.write(f"Prompt optimizer: set to {row.mode} mode, model {row.model!r} at vendor {vendor.name!r}.")

    @staticmethod
    def validate(obj, source: str) -> None:
        try:
            obj.full_clean()
        except ValidationError as exc:
            details = "; ".join(
                f"{name}: {' '.join(errors)}" if name != "__all__" else " ".join(errors)
                for name, errors in exc.message_dict.items()
            )
            raise CommandError(f"{source}: {details}") from None
