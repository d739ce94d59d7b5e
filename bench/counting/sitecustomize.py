"""Counting what one gateway process asks of its database and its cache, for bench/generation_load.py.

Python imports ``sitecustomize`` at start when it is on the path: generation_load.py puts this folder on
the gateway's PYTHONPATH, and nothing else does, so the gateway's own code is not changed. After
``django.setup()`` every SQL statement Django sends (execute wrappers on each new connection) and every
call of the cache API (the outermost one: ``get_or_set`` counts once, not as its inner get and add) is
counted by its verb (SQL: and its first table). On SIGUSR1 the counts are written to BENCH_COUNTS_FILE as JSON.
"""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections import Counter

import django

COUNTS = {"sql": Counter(), "cache": Counter()}
CACHE_METHODS = ("get", "set", "add", "incr", "decr", "delete", "get_many", "set_many", "delete_many")
CACHE_METHODS += ("touch", "has_key", "get_or_set", "clear")
_depth = threading.local()


TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)', re.IGNORECASE)


def _count_sql(execute, sql, params, many, context):
    verb = str(sql).split(None, 1)[0].upper()
    table = TABLE.search(str(sql))
    COUNTS["sql"][f"{verb} {table[1]}" if table else verb] += 1
    return execute(sql, params, many, context)


def _on_connection(sender, connection, **kwargs):
    if _count_sql not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_sql)


def _counted(name, method):
    def wrapper(*args, **kwargs):
        outermost = not getattr(_depth, "inside", False)
        if outermost:
            COUNTS["cache"][name] += 1
            _depth.inside = True
        try:
            return method(*args, **kwargs)
        finally:
            if outermost:
                _depth.inside = False

    return wrapper


def _write_counts(signum, frame):
    path = os.environ["BENCH_COUNTS_FILE"]
    with open(path + ".tmp", "w") as out:
        json.dump({kind: dict(counter) for kind, counter in COUNTS.items()}, out)
    os.replace(path + ".tmp", path)


def _install():
    from django.core.cache import caches
    from django.db.backends.signals import connection_created

    connection_created.connect(_on_connection)
    backend = type(caches["default"])
    for name in CACHE_METHODS:
        if hasattr(backend, name):
            setattr(backend, name, _counted(name, getattr(backend, name)))
    signal.signal(signal.SIGUSR1, _write_counts)


_setup = django.setup


def _counting_setup(*args, **kwargs):
    _setup(*args, **kwargs)
    _install()


if os.environ.get("BENCH_COUNTS_FILE"):
    django.setup = _counting_setup
