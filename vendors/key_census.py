"""How many keys each vendor has in each state, counted when Prometheus scrapes (``imagegen_vendor_keys``).

A key is ``disabled`` when the operator switched it off, ``auto_disabled`` when the gateway took it
out of rotation, ``cooling`` while it rests after a 429 or a failure streak, ``suspect`` after a recent
failure (the key's own verdict, ``VendorKey.state_now``), else ``active``. Every state of every vendor
is reported, zeros included, so an alert on "no active key" fires on a zero rather than on a missing
series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.core.cache import cache
from django.db import DatabaseError
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vendors.key_models import OPERATOR_OFF
from vendors.keys import cooldown_key
from vendors.models import Vendor, VendorKey

log = logging.getLogger(__name__)

STATES = ("active", "suspect", "cooling", "auto_disabled", "disabled")


def key_states() -> dict[tuple[str, str], int]:
    """(vendor name, state) -> number of keys, for every vendor and state. Queries the database and the cache."""
    counts = {(name, state): 0 for name in Vendor.objects.values_list("name", flat=True) for state in STATES}
    keys = list(VendorKey.objects.select_related("vendor"))
    resting = _resting([key.pk for key in keys])
    now = timezone.now()
    for key in keys:
        state = key.state_now(now)
        if state == OPERATOR_OFF:
            state = "disabled"
        elif state in (VendorKey.Status.ACTIVE, VendorKey.Status.SUSPECT) and cooldown_key(key.pk) in resting:
            state = "cooling"  # a rest only the shared cache knows of yet
        counts[key.vendor.name, state] += 1
    return counts


def _resting(key_ids: list[int]) -> dict:
    """The keys' rests in the shared cache; none when the cache does not answer (then no key counts as cooling)."""
    if not key_ids:
        return {}
    try:
        return cache.get_many([cooldown_key(pk) for pk in key_ids])
    except Exception:
        log.warning("the cache did not answer: keys resting now are counted as active in this scrape", exc_info=True)
        return {}


class KeyStates(Collector):
    """The ``imagegen_vendor_keys`` gauge, computed at each scrape (blocking: call it off the event loop).
    When the database does not answer the gauge is left out of the scrape, not the rest of the metrics."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            counts = key_states()
        except DatabaseError:
            log.warning("the database did not answer: the scrape has no imagegen_vendor_keys", exc_info=True)
            return
        family = GaugeMetricFamily("imagegen_vendor_keys", "Vendor keys by state.", labels=["vendor", "state"])
        for (vendor, state), count in sorted(counts.items()):
            family.add_metric([vendor, state], count)
        yield family
