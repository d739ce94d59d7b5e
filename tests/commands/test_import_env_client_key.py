"""AUTHORIZED_API_KEY becomes a client key row that import_env seeds and the admin decides about."""

import pytest

from imagegen.models import ClientKey, EnvImport, hash_client_key
from tests.commands.seed_env import run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("clean_env")]

KEY = "env-client-key-abcd1234"
NEW_KEY = "env-client-key-rotated-9876"


def models(client, key):
    return client.get("/v1/models", HTTP_AUTHORIZATION=f"Bearer {key}")


def test_the_key_becomes_a_hashed_row_that_authenticates(clean_env, client):
    clean_env.setenv("AUTHORIZED_API_KEY", KEY)

    output = run()

    row = ClientKey.objects.get()
    assert (row.name, row.hashed_key, row.enabled) == ("AUTHORIZED_API_KEY (env)", hash_client_key(KEY), True)
    assert row.masked == "…1234" and KEY not in output and "created" in output
    assert KEY not in str(list(EnvImport.objects.values_list("values", flat=True)))
    assert models(client, KEY).status_code == 200
    assert "unchanged" in run() and ClientKey.objects.count() == 1


def test_a_new_value_rotates_the_rows_hash_and_keeps_the_admins_limits(clean_env, client):
    clean_env.setenv("AUTHORIZED_API_KEY", KEY)
    run()
    ClientKey.objects.update(name="legacy app", requests_per_minute=30)

    clean_env.setenv("AUTHORIZED_API_KEY", NEW_KEY)
    output = run()

    row = ClientKey.objects.get()
    assert (row.name, row.requests_per_minute, row.hashed_key) == ("legacy app", 30, hash_client_key(NEW_KEY))
    assert "rotated" in output and NEW_KEY not in output
    assert models(client, KEY).status_code == 401
    assert models(client, NEW_KEY).status_code == 200


def test_a_disable_in_admin_is_kept_and_a_deleted_row_stays_deleted(clean_env, client):
    clean_env.setenv("AUTHORIZED_API_KEY", KEY)
    run()
    row = ClientKey.objects.get()
    row.enabled = False
    row.save()

    run()
    assert ClientKey.objects.get().enabled is False
    assert models(client, KEY).status_code == 401

    ClientKey.objects.all().delete()
    assert "left deleted" in run()
    assert ClientKey.objects.count() == 0


def test_unsetting_the_variable_disables_the_row_as_it_used_to_revoke_the_key(clean_env, client):
    clean_env.setenv("AUTHORIZED_API_KEY", KEY)
    run()
    clean_env.delenv("AUTHORIZED_API_KEY")

    assert "disabled" in run()
    assert ClientKey.objects.get().enabled is False
    assert models(client, KEY).status_code == 401

    clean_env.setenv("AUTHORIZED_API_KEY", KEY)  # set again: imported again
    run()
    assert ClientKey.objects.count() == 1 and models(client, KEY).status_code == 200


def test_a_dry_run_writes_no_client_key(clean_env):
    clean_env.setenv("AUTHORIZED_API_KEY", KEY)
    run("--dry-run")
    assert ClientKey.objects.count() == 0 and EnvImport.objects.count() == 0
