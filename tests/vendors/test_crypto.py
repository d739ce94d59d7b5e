"""Vendor keys at rest: a list of encryption keys, and nothing that hangs on SECRET_KEY."""

import hashlib
import hmac
import logging
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from tests.factories import make_key, make_vendor
from vendors import crypto
from vendors.forms import VendorKeyForm
from vendors.models import VendorKey
from vendors.selectors import build_routing_table

pytestmark = pytest.mark.django_db

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()
SECRET = "sk-flux-secret-one1"


def stored_secret(key: VendorKey) -> str:
    return VendorKey.objects.get(pk=key.pk).secret


def test_a_vendor_key_is_written_with_the_first_encryption_key_and_read_with_any(settings):
    settings.ENCRYPTION_KEYS = [KEY_A]
    old = make_key(make_vendor(name="old"), "sk-written-with-a-1111")
    settings.ENCRYPTION_KEYS = [KEY_B, KEY_A]
    new = make_key(make_vendor(name="new"), "sk-written-with-b-2222")

    assert stored_secret(old) == "sk-written-with-a-1111"
    settings.ENCRYPTION_KEYS = [KEY_B]
    assert stored_secret(new) == "sk-written-with-b-2222"
    with pytest.raises(ImproperlyConfigured, match="no longer in the list"):
        stored_secret(old)


def test_changing_secret_key_neither_breaks_nor_duplicates_the_stored_vendor_keys(settings, monkeypatch):
    settings.SECRET_KEY = "the-first-secret-key"
    monkeypatch.setenv("FLUX_GEN_API_BASE", "https://api.siliconflow.cn/v1")
    monkeypatch.setenv("FLUX_GEN_MODEL", "flux-schnell")
    monkeypatch.setenv("FLUX_GEN_API_KEY", SECRET)
    call_command("import_env", stdout=StringIO())
    key = VendorKey.objects.get()

    settings.SECRET_KEY = "a-different-secret-key"
    output = StringIO()
    call_command("import_env", stdout=output)

    assert VendorKey.objects.count() == 1
    assert stored_secret(key) == SECRET
    assert "added" not in output.getvalue()
    form = VendorKeyForm(data={"vendor": key.vendor_id, "secret": SECRET, "enabled": True})
    assert not form.is_valid() and "already has this key" in str(form.errors)


def test_a_row_written_by_an_older_version_with_the_secret_key_derived_key_stays_readable(settings):
    settings.SECRET_KEY = "the-secret-key-of-an-older-version"
    vendor = make_vendor()
    legacy_token = crypto.legacy_key(settings.SECRET_KEY).encrypt(SECRET.encode()).decode()
    VendorKey.objects.create(vendor=vendor, secret_encrypted=legacy_token, fingerprint="x" * 64, last4="one1")

    assert VendorKey.objects.get().secret == SECRET


def test_the_fingerprint_depends_on_neither_secret_key_nor_the_encryption_keys(settings):
    first = crypto.fingerprint(SECRET)
    settings.SECRET_KEY = "another-secret-key"
    settings.ENCRYPTION_KEYS = [KEY_B]

    assert crypto.fingerprint(SECRET) == first
    assert crypto.fingerprint(SECRET) != crypto.fingerprint(SECRET + "x")
    assert SECRET not in first
    assert first != hmac.new(settings.SECRET_KEY.encode(), SECRET.encode(), hashlib.sha256).hexdigest()


def test_a_key_written_with_a_key_since_removed_is_skipped_and_the_vendors_other_keys_still_route(settings, caplog):
    vendor = make_vendor()
    settings.ENCRYPTION_KEYS = [KEY_A]
    make_key(vendor, "sk-lost-with-key-a-1111", label="lost")
    settings.ENCRYPTION_KEYS = [KEY_B]
    make_key(vendor, "sk-kept-with-key-b-2222", label="kept")

    with caplog.at_level(logging.ERROR):
        table = build_routing_table()

    assert [key.label for key in table.vendors[vendor.id].keys] == ["kept"]
    assert "lost skipped" in caplog.text
    assert "sk-lost" not in caplog.text


def test_an_encryption_key_list_that_is_empty_is_refused_with_the_setting_named(settings):
    settings.ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="ENCRYPTION_KEYS"):
        crypto.encrypt(SECRET)
