"""Seed Vendor, ImageModel, VendorKey and optimizer rows from the Worker's environment variables.

The environment seeds, the admin decides: see ``imagegen.env_import.memory`` and ``rows`` for the rules.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, DjangoHelpFormatter
from django.db import transaction

from imagegen.env_import.client_key import TARGET as CLIENT_KEY_TARGET
from imagegen.env_import.client_key import apply_client_key
from imagegen.env_import.memory import OPTIMIZER, ImportMemory, vendor_target
from imagegen.env_import.optimizer import apply_optimizer
from imagegen.env_import.rows import apply_vendor
from imagegen.env_import.specs import (
    DEFAULT_IMAGE_GEN_KIND,
    DEFAULT_OPENAI_BASE,
    FLUX_KIND,
    OPTIMIZER_KIND,
    OptimizerSpec,
    VendorSpec,
    check_unique_models,
    openai_set_without_model,
    read_image_vendors,
    read_optimizer,
    value,
)
from vendors.adapters import image_kinds

HELP = """\
Seed vendors, image models, vendor keys and the prompt optimizer from environment variables.

  FLUX_GEN_API_BASE, FLUX_GEN_MODEL, FLUX_GEN_API_KEY
      -> vendor "siliconflow" (kind {flux_kind}). The base may be an API base or a full endpoint URL.
  IMAGE_GEN_API_BASE_n, IMAGE_GEN_MODEL_n, IMAGE_GEN_API_KEY_n, IMAGE_GEN_KIND_n for n = 1, 2, ...
      -> vendor "image-gen-<n>" of kind IMAGE_GEN_KIND_n (default {default_kind}; any image kind: {kinds});
      numbering stops at the first missing IMAGE_GEN_API_BASE_n.
  OPENAI_API_BASE (default {openai_base}), OPENAI_API_KEY, and OPENAI_MODEL (fast mode) or
  OPENAI_MODEL_REASONING (reasoning mode)
      -> vendor "optimizer" (kind {optimizer_kind}) and the prompt optimizer settings.
  AUTHORIZED_API_KEY
      -> client key "AUTHORIZED_API_KEY (env)", stored hashed; a new value rotates it; limit or disable it
      in admin. Once the variable is unset, the row is disabled.

Models and keys are comma-separated lists; spaces around items and empty items are ignored. A model entry
"public=upstream" publishes the name "public" and sends "upstream" to the vendor.

The environment seeds, the admin decides. Each run remembers what it imported, and then:
  - creates what is new to the environment: a vendor whose variables were not set at the last import, a
    model not in its list then, a key not in its key list then;
  - writes a field (a vendor's kind and base URL, a model's vendor and upstream name, the optimizer's mode,
    vendor and model) only when its variable changed since the last import; otherwise a value edited in
    admin is kept and reported as "Admin differs from the environment";
  - does not re-create a vendor, model or key the environment already listed at the last import and that
    was deleted in admin since (delete the vendor's row under "Environment imports" in admin to have the
    next run treat it as new);
  - skips, with a warning, a model name another vendor serves in admin, and a vendor name admin uses for
    another kind of vendor; the rest goes on.
Rows not in the environment are left as they are. Running it again with the same environment changes
nothing. Invalid values (a bad URL, a model name listed twice) stop it with an error and write nothing.
"""


class LineKeepingFormatter(DjangoHelpFormatter):
    def _fill_text(self, text, width, indent):  # argparse would rewrap the help's lists into one paragraph
        return "".join(indent + line for line in text.splitlines(keepends=True))


class Command(BaseCommand):
    @property
    def help(self):
        return HELP.format(
            flux_kind=FLUX_KIND,
            default_kind=DEFAULT_IMAGE_GEN_KIND,
            kinds=", ".join(image_kinds()),
            openai_base=DEFAULT_OPENAI_BASE,
            optimizer_kind=OPTIMIZER_KIND,
        )

    def create_parser(self, prog_name, subcommand, **kwargs):
        kwargs["formatter_class"] = LineKeepingFormatter
        return super().create_parser(prog_name, subcommand, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Check and report, but write nothing.")

    def handle(self, *args, dry_run: bool = False, **options):
        vendors, optimizer = self.read_environment()
        with transaction.atomic():
            memory = ImportMemory()
            changed, lines = apply_client_key(value("AUTHORIZED_API_KEY"), memory)
            self.tell(lines, [])
            if not vendors:
                self.stdout.write(
                    "No FLUX_GEN_*, IMAGE_GEN_*_n or OPENAI_MODEL* variables are set: nothing to import for vendors."
                )
            changed |= self.write_rows(vendors, optimizer, memory)
            targets = {vendor_target(spec.name) for spec in vendors} | ({OPTIMIZER} if optimizer else set())
            memory.forget_all_but(targets | {CLIENT_KEY_TARGET})
            if dry_run:
                transaction.set_rollback(True)
        if dry_run:
            self.stdout.write("Dry run: nothing was written.")
        elif not changed:
            self.stdout.write(self.style.SUCCESS("Everything is unchanged."))
        else:
            self.stdout.write(self.style.SUCCESS("Import done."))

    def read_environment(self) -> tuple[list[VendorSpec], OptimizerSpec | None]:
        vendors, warning = read_image_vendors()
        if warning:
            self.stderr.write(self.style.WARNING(warning))
        optimizer = read_optimizer()
        if optimizer is not None:
            vendors.append(optimizer.vendor)
        elif openai_set_without_model():
            self.stdout.write(
                "OPENAI_API_* is set but neither OPENAI_MODEL nor OPENAI_MODEL_REASONING: "
                "the prompt optimizer is left as it is."
            )
        check_unique_models(vendors)
        return vendors, optimizer

    def write_rows(self, vendors: list[VendorSpec], optimizer: OptimizerSpec | None, memory: ImportMemory) -> bool:
        """Applies every spec, reporting each as it goes; returns whether anything changed."""
        changed = False
        rows = {}
        for spec in vendors:
            outcome = apply_vendor(spec, memory)
            self.tell(outcome.report(), outcome.warnings)
            rows[spec.name] = outcome.vendor
            changed |= outcome.changed
        if optimizer is not None:
            optimizer_changed, line, warnings = apply_optimizer(optimizer, rows[optimizer.vendor.name], memory)
            self.tell([line], warnings)
            changed |= optimizer_changed
        return changed

    def tell(self, lines: list[str], warnings: list[str]) -> None:
        for line in lines:
            self.stdout.write(line)
        for warning in warnings:
            self.stderr.write(self.style.WARNING(warning))
