"""Rows written on every request, with statements compiled once instead of on every call.

``Model.objects.create``, ``bulk_create`` and ``QuerySet.update`` build a query object, compile it to
SQL and walk the model's options on each call: on the chat path those were a fifth of a worker's
Python time (``bench/README.md``, issue 14). The statements here are built once per model and column
set, from the connection's own quoting, and every value still goes through its field's own
``pre_save`` and ``get_db_prep_save``, so what lands in the table is what the ORM would write. A
backend that cannot return the new ids from an INSERT gets the ORM's own calls instead.

No signals are sent (``save`` would send ``pre_save`` and ``post_save``): these are for rows nothing
listens to, the ledger's and the stored images'.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from django.db import connections, models

ALIAS = "default"


@cache
def _fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def _insert_sql(model: type[models.Model], vendor: str, rows: int) -> str:
    ops = connections[ALIAS].ops
    fields = _fields(model)
    columns = ", ".join(ops.quote_name(field.column) for field in fields)
    one_row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    values = ", ".join([one_row] * rows)
    returning = ops.quote_name(model._meta.pk.column)
    return f"INSERT INTO {ops.quote_name(model._meta.db_table)} ({columns}) VALUES {values} RETURNING {returning}"


@cache
def _update_sql(model: type[models.Model], vendor: str, attnames: tuple[str, ...]) -> tuple[str, tuple]:
    ops = connections[ALIAS].ops
    by_attname = {field.attname: field for field in _fields(model)}
    fields = tuple(by_attname[name] for name in attnames)
    assignments = ", ".join(f"{ops.quote_name(field.column)} = %s" for field in fields)
    table, pk = ops.quote_name(model._meta.db_table), ops.quote_name(model._meta.pk.column)
    return f"UPDATE {table} SET {assignments} WHERE {pk} = %s", fields


def _can_return_ids() -> bool:
    features = connections[ALIAS].features
    return features.can_return_columns_from_insert and features.can_return_rows_from_bulk_insert


# Bound parameters per statement: SQLite before 3.32 allowed no more than 999.
MAX_PARAMS = 999


def insert(objects: Sequence[models.Model]) -> list[models.Model]:
    """Insert unsaved instances of one model; their primary keys are set, as after ``save``."""
    if not objects:
        return []
    model = type(objects[0])
    if not _can_return_ids():
        return model._default_manager.bulk_create(objects)
    per_statement = max(1, MAX_PARAMS // len(_fields(model)))
    for start in range(0, len(objects), per_statement):
        _insert_batch(model, objects[start : start + per_statement])
    return list(objects)


def _insert_batch(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    connection = connections[ALIAS]
    fields, params = _fields(model), []
    for obj in objects:
        params.extend(field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection.vendor, len(objects)), params)
        ids = [row[0] for row in cursor.fetchall()]
    # SQLite and PostgreSQL return the rows of one INSERT in the order of its VALUES.
    for obj, pk in zip(objects, ids, strict=True):
        obj.pk = pk
        obj._state.adding, obj._state.db = False, ALIAS


def create(model: type[models.Model], /, **values) -> models.Model:
    """``model.objects.create(**values)`` without its per-call compiling."""
    return insert([model(**values)])[0]


def update(model: type[models.Model], pk: int, /, **values) -> None:
    """``model.objects.filter(pk=pk).update(**values)`` for plain columns, named by attname (``vendor_id``)."""
    connection = connections[ALIAS]
    sql, fields = _update_sql(model, connection.vendor, tuple(values))
    params = [field.get_db_prep_save(value, connection) for field, value in zip(fields, values.values(), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, pk])
