"""manage.py rotate_encryption_key: every vendor key re-encrypted with the newest key, in one go."""

import hashlib
import hmac
import importlib
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.factories import make_key, make_vendor
from vendors import crypto
from vendors.models import VendorKey

pytestmark = pytest.mark.django_db

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRETS = ["sk-first-secret-1111", "sk-second-secret-2222", "sk-third-secret-3333"]


def rotate(*args) -> str:
    out = StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


def secrets_readable(first: int | None = None) -> list[str]:
    return [key.secret for key in VendorKey.objects.order_by("id")[:first]]


def tokens() -> list[str]:
    return list(VendorKey.objects.order_by("id").values_list("secret_encrypted", flat=True))


def legacy_row(vendor, secret: str, secret_key: str) -> VendorKey:
    """A row as versions before the key list wrote it: encrypted and fingerprinted through SECRET_KEY."""
    return VendorKey.objects.create(
        vendor=vendor,
        secret_encrypted=crypto.legacy_key(secret_key).encrypt(secret.encode()).decode(),
        fingerprint=hmac.new(secret_key.encode(), secret.encode(), hashlib.sha256).hexdigest(),
        last4=secret[-4:],
    )


@pytest.fixture
def written_with_key_a(settings):
    settings.ENCRYPTION_KEYS = [KEY_A]
    first, second = make_vendor(name="first"), make_vendor(name="second")
    for vendor, secret in zip([first, first, second], SECRETS, strict=True):
        make_key(vendor, secret)
    return settings


def test_after_rotating_to_a_new_key_the_new_key_alone_reads_every_vendor_key(written_with_key_a):
    settings = written_with_key_a
    settings.ENCRYPTION_KEYS = [KEY_B]
    with pytest.raises(ImproperlyConfigured):
        secrets_readable()  # not yet: the rows are still under key A
    settings.ENCRYPTION_KEYS = [KEY_B, KEY_A]

    output = rotate()

    settings.ENCRYPTION_KEYS = [KEY_B]
    assert secrets_readable() == SECRETS
    assert "Re-encrypted 3 vendor key(s)" in output
    assert not any(secret in output for secret in SECRETS)


def test_a_key_that_no_listed_key_can_read_stops_the_rotation_and_nothing_is_written(written_with_key_a):
    settings = written_with_key_a
    settings.ENCRYPTION_KEYS = [KEY_B]
    make_key(make_vendor(name="third"), "sk-fourth-secret-4444", label="fourth")
    before = tokens()

    with pytest.raises(CommandError, match="3 vendor key.* cannot be decrypted.*Nothing was written"):
        rotate()

    assert tokens() == before


def test_skipping_unreadable_keys_rotates_the_rest_and_names_the_ones_left(written_with_key_a):
    settings = written_with_key_a
    settings.ENCRYPTION_KEYS = [KEY_B]
    make_key(make_vendor(name="third"), "sk-fourth-secret-4444", label="fourth")

    output = rotate("--skip-unreadable")

    assert "Re-encrypted 1 vendor key(s)" in output
    assert "3 vendor key(s) cannot be decrypted" in output and "vendor 'first' key …1111" in output
    settings.ENCRYPTION_KEYS = [KEY_A]
    assert secrets_readable(first=3) == SECRETS  # still under key A, untouched


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(written_with_key_a):
    written_with_key_a.ENCRYPTION_KEYS = [KEY_B, KEY_A]
    before = tokens()

    output = rotate("--dry-run")

    assert "Would re-encrypt 3 vendor key(s)" in output
    assert tokens() == before


def test_rows_from_before_the_key_list_no_longer_depend_on_secret_key_after_rotating(settings):
    settings.SECRET_KEY, settings.ENCRYPTION_KEYS = "the-old-secret-key", [KEY_A]
    row = legacy_row(make_vendor(), SECRETS[0], settings.SECRET_KEY)

    output = rotate()

    settings.SECRET_KEY = "a-new-secret-key"
    row.refresh_from_db()
    assert row.secret == SECRETS[0]
    assert row.fingerprint == crypto.fingerprint(SECRETS[0])
    assert "1 fingerprint(s) updated" in output


def test_a_secret_stored_twice_under_two_secret_keys_is_reported_and_both_rows_kept(settings):
    settings.ENCRYPTION_KEYS = [KEY_A]
    vendor = make_vendor()
    for secret_key in ("secret-key-before", "secret-key-after"):
        row = legacy_row(vendor, SECRETS[0], secret_key)
        row.secret_encrypted = crypto.encrypt(SECRETS[0])  # ENCRYPTION_KEY was set: both stayed readable
        row.save()

    output = rotate()

    assert "Stored twice for the same vendor" in output and "…1111" in output
    fingerprints = list(VendorKey.objects.values_list("fingerprint", flat=True))
    assert len(fingerprints) == 2 and crypto.fingerprint(SECRETS[0]) in fingerprints


def test_the_upgrade_migration_does_the_same_for_rows_an_older_version_wrote(settings):
    settings.SECRET_KEY, settings.ENCRYPTION_KEYS = "the-old-secret-key", [KEY_A]
    row = legacy_row(make_vendor(), SECRETS[0], settings.SECRET_KEY)
    migration = importlib.import_module("vendors.migrations.0004_vendor_keys_independent_of_secret_key")

    migration.forwards(apps, schema_editor=None)

    settings.SECRET_KEY = "a-new-secret-key"
    row.refresh_from_db()
    assert row.secret == SECRETS[0] and row.fingerprint == crypto.fingerprint(SECRETS[0])
