"""Registrable domains and top-level domains, by the Public Suffix List.

The list is the copy bundled with the ``publicsuffixlist`` package (pinned in requirements.txt; a new
release brings a newer list). It is read from that file, named explicitly, once per process: nothing
here ever fetches the list, so no network is touched at run time.
"""

from __future__ import annotations

import ipaddress
from functools import cache

import publicsuffixlist
from publicsuffixlist import PublicSuffixList


@cache
def _list() -> PublicSuffixList:
    # Unknown TLDs are not suffixes here: a name under one (``vendor.internal``) has no registrable
    # domain, so only its exact host matches. The private section counts (``github.io``,
    # ``herokuapp.com``), so two tenants of one platform never share a site.
    with open(publicsuffixlist.PSLFILE, "rb") as source:
        return PublicSuffixList(source, accept_unknown=False)


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def registrable_domain(host: str) -> str | None:
    """The host's registrable domain (``api.us.bfl.ai`` -> ``bfl.ai``, ``a.b.co.uk`` -> ``b.co.uk``); None for
    an IP address, a public suffix itself, or a name under a TLD the list does not know."""
    name = host.rstrip(".").lower()
    if not name or is_ip(name):
        return None
    try:
        return _list().privatesuffix(name)
    except (UnicodeError, ValueError):
        return None


def is_top_level_domain(label: str) -> bool:
    """Whether ``label`` (``com``, ``ai``, ``uk``) is a TLD the list knows."""
    label = label.lower()
    return label.isalnum() and bool(_list().is_public(label))
