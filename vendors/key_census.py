"""How many keys each vendor has in each state, counted when Prometheus scrapes (``imagegen_vendor_keys``).

A key is ``disabled`` when the operator switched it off, ``auto_disabled`` when the gateway took it out
of rotation, ``cooling`` while it rests after a 429 or a failure streak (the rest lives in the shared
cache, ``vendors.keys``), else ``active``. Every state of every vendor is reported, zeros included, so
an alert on "no active key" fires on a zero rather than on a missing series.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.core.cache import cache
from django.db import DatabaseError
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from vendors.keys import cooldown_key
from vendors.models import Vendor, VendorKey

log = logging.getLogger(__name__)

STATES = ("active", "cooling", "auto_disabled", "disabled")


def key_states() -> dict[tuple[str, str], int]:
    """(vendor name, state) -> number of keys, for every vendor and state. Queries the database and the cache."""
    counts = {(name, state): 0 for name in Vendor.objects.values_list("name", flat=True) for state in STATES}
    keys = list(VendorKey.objects.values_list("pk", "vendor__name", "enabled", "status"))
    resting = _resting([pk for pk, *_ in keys])
    for pk, vendor, enabled, status in keys:
        if not enabled:
            state = "disabled"
        elif status == VendorKey.Status.AUTO_DISABLED:
            state = "auto_disabled"
        elif cooldown_key(pk) in resting:
            state = "cooling"
        else:
            state = "active"
        counts[vendor, state] += 1
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
