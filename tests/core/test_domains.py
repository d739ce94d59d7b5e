"""Registrable domains by the Public Suffix List bundled with its package, read without any network."""

from __future__ import annotations

import socket
import urllib.request

import publicsuffixlist
import pytest

from core import domains
from core.domains import is_top_level_domain, registrable_domain


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("api.us.bfl.ai", "bfl.ai"),
        ("API.BFL.AI.", "bfl.ai"),
        ("eu.api.vendor.co.uk", "vendor.co.uk"),
        ("api.vendor.com.au", "vendor.com.au"),
        ("tenant-a.herokuapp.com", "tenant-a.herokuapp.com"),  # the list's private section: a platform's tenants
        ("someone.github.io", "someone.github.io"),
        ("co.uk", None),  # a public suffix has no registrable domain
        ("api.vendor.internal", None),  # a TLD the list does not know
        ("10.0.0.1", None),
        ("::1", None),
        ("", None),
    ],
)
def test_the_registrable_domain_comes_from_the_public_suffix_list(host, site):
    assert registrable_domain(host) == site


@pytest.mark.parametrize(("label", "known"), [("com", True), ("ai", True), ("uk", True), ("js", False), ("png", False)])
def test_top_level_domains_are_the_lists(label, known):
    assert is_top_level_domain(label) is known


def test_the_list_is_the_bundled_file_read_without_touching_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the Public Suffix List must not touch the network")

    for name in ("connect", "connect_ex", "sendto"):
        monkeypatch.setattr(socket.socket, name, no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    opened = []
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *args, **kwargs: opened.append(path) or real_open(path, *args))
    domains._list.cache_clear()
    try:
        assert registrable_domain("api.us.bfl.ai") == "bfl.ai"
    finally:
        monkeypatch.undo()
        domains._list.cache_clear()

    assert opened == [publicsuffixlist.PSLFILE]
