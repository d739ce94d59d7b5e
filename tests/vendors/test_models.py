import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import make_key, make_model, make_vendor
from vendors.models import ImageModel, VendorKey, validate_http_url

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_model_name_twice_even_without_validation():
    first, second = make_vendor(name="first"), make_vendor(name="second")
    make_model(first, name="flux-pro")
    with pytest.raises(IntegrityError), transaction.atomic():
        ImageModel.objects.bulk_create([ImageModel(vendor=second, name="flux-pro")])


def test_validation_names_the_vendor_that_already_serves_the_model():
    first, second = make_vendor(name="first"), make_vendor(name="second")
    make_model(first, name="flux-pro")
    with pytest.raises(ValidationError) as caught:
        ImageModel(vendor=second, name="flux-pro").full_clean()
    assert "'first'" in str(caught.value)


def test_a_vendor_key_is_stored_encrypted_and_read_back():
    key = make_key(make_vendor(), "sk-secret-value-9876")
    stored = VendorKey.objects.values_list("secret_encrypted", flat=True).get()
    assert "sk-secret-value-9876" not in stored
    assert VendorKey.objects.get(pk=key.pk).secret == "sk-secret-value-9876"
    assert key.masked == "…9876"


@pytest.mark.parametrize("url", ["https://api.siliconflow.cn/v1", "http://flux:8000/v1", "http://127.0.0.1:9/v1"])
def test_http_base_urls_with_any_host_are_valid(url):
    validate_http_url(url)


@pytest.mark.parametrize("url", ["ftp://x/v1", "api.example.com/v1", "http:///v1", "http://exa mple.com"])
def test_other_base_urls_are_refused(url):
    with pytest.raises(ValidationError):
        validate_http_url(url)
