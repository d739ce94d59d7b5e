"""Probe vendor keys for free and put auto-disabled keys whose probe passes back into rotation (cron, sidecar)."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from vendors.models import Vendor, VendorKey
from vendors.probes import probe_keys


class Command(BaseCommand):
    help = (
        "Check vendor keys with each kind's free probe (a models list, an account or balance endpoint; never an "
        "image) and put each auto-disabled key whose probe passes back into rotation. By default only the "
        "auto-disabled keys of enabled vendors are probed; --all probes every key of them. Meant for cron or a "
        "container sidecar, e.g. every 5 minutes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Probe every key, not only the auto-disabled ones.")
        parser.add_argument(
            "--vendor", action="append", default=[], metavar="NAME", help="Only this vendor's keys (repeatable)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Probe and report, but put no key back into rotation."
        )

    def handle(self, *args, all=False, vendor=(), dry_run=False, **options):
        keys = VendorKey.objects.filter(vendor__enabled=True).select_related("vendor").order_by("vendor__name", "id")
        if vendor:
            unknown = sorted(set(vendor) - set(Vendor.objects.filter(name__in=vendor).values_list("name", flat=True)))
            if unknown:
                raise CommandError(f"No vendor named {', '.join(map(repr, unknown))}.")
            keys = keys.filter(vendor__name__in=vendor)
        if not all:
            keys = keys.filter(status=VendorKey.Status.AUTO_DISABLED)
        results = probe_keys(keys, heal=not dry_run)
        for result in results:
            self.stdout.write(result.line())
        verdicts = Counter(result.answer.verdict for result in results)
        restored = sum(result.restored for result in results)
        self.stdout.write(
            f"Probed {len(results)} key(s): {verdicts['passed']} passed, {verdicts['refused']} refused, "
            f"{verdicts['no verdict']} without a verdict; {restored} back in rotation."
        )
