import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.factories import make_key, make_model, make_vendor
from vendors.forms import ImageModelForm
from vendors.models import ImageModel, VendorKey
from vendors.size_rules import SizeCapability
from vendors.validation import validate_http_url

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


# --- sizes ---------------------------------------------------------------------------------------


def test_a_models_size_rules_become_its_capability():
    model = make_model(
        make_vendor(),
        allowed_ratios="16:9, 1:1",
        size_multiple=32,
        min_side=256,
        max_side=1440,
        max_megapixels=2.0,
    )
    assert model.size_capability == SizeCapability(
        ratios=((16, 9), (1, 1)), multiple_of=32, min_side=256, max_side=1440, max_megapixels=2.0
    )
    assert make_model(model.vendor, name="plain").size_capability.unconstrained


def test_valid_size_rules_pass_validation():
    model = ImageModel(
        vendor=make_vendor(),
        name="dall-e-3",
        size_format="size",
        allowed_sizes="1024x1024, 1792x1024, 1024x1792",
        default_size="1792x1024",
    )
    model.full_clean()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"allowed_sizes": "1024x1024, huge"}, "allowed_sizes", "'huge' is not a size like 1024x768."),
        ({"allowed_ratios": "16:9, wide"}, "allowed_ratios", "'wide' is not an aspect ratio like 16:9."),
        ({"min_side": 1024, "max_side": 512}, "max_side", "at least the smallest side (1024)"),
        ({"max_megapixels": 0.0}, "max_megapixels", "more than 0"),
        ({"size_multiple": 0}, "size_multiple", "greater than or equal to 1"),
        ({"size_multiple": 64, "min_side": 330, "max_side": 370}, "size_multiple", "No multiple of 64"),
        ({"min_side": 2048, "max_megapixels": 1.0}, "max_megapixels", "over the limit"),
        ({"size_format": "sideways"}, "size_format", "not a valid choice"),
        (
            {"allowed_sizes": "1024x1024, 1792x1024", "default_size": "512x512"},
            "default_size",
            "512x512 is not one of the allowed sizes (1024x1024, 1792x1024).",
        ),
    ],
)
def test_bad_size_rules_are_refused_on_their_field(fields, field, message):
    model = ImageModel(vendor=make_vendor(), name="m", **fields)
    with pytest.raises(ValidationError) as caught:
        model.full_clean()
    assert message in " ".join(caught.value.message_dict[field])


def test_a_default_size_without_an_allowed_list_is_free():
    ImageModel(vendor=make_vendor(), name="m", default_size="512x512", allowed_ratios="1:1").full_clean()


def test_size_errors_stay_on_their_field_when_the_caller_leaves_it_out():
    # The Vendor page's rows show few fields; their form (not the model) turns these into row errors.
    model = make_model(make_vendor(), name="m")
    ImageModel.objects.filter(pk=model.pk).update(allowed_sizes="nonsense")
    model.refresh_from_db()
    with pytest.raises(ValidationError) as caught:
        model.full_clean(exclude=["allowed_sizes"])
    assert "'nonsense' is not a size" in str(caught.value.message_dict["allowed_sizes"])


# --- fallback chains -----------------------------------------------------------------------------


def chain(*names):
    vendor = make_vendor()
    models = [make_model(vendor, name=name) for name in names]
    for model, following in zip(models, models[1:], strict=False):
        model.fallback = following
        model.save()
    return models


def test_a_fallback_chain_may_cross_vendors():
    first = make_model(make_vendor(name="first"), name="a")
    second = make_model(make_vendor(name="second"), name="b")
    first.fallback = second
    first.full_clean()
    first.save()
    assert list(second.fallback_for.all()) == [first]


def test_a_model_cannot_be_its_own_fallback():
    (model,) = chain("a")
    model.fallback = model
    with pytest.raises(ValidationError) as caught:
        model.full_clean()
    assert "cannot be its own fallback" in str(caught.value.message_dict["fallback"])


def test_a_loop_in_the_fallback_chain_is_refused_naming_it():
    a, b, c = chain("a", "b", "c")
    c.fallback = a
    with pytest.raises(ValidationError) as caught:
        c.full_clean()
    assert "c -> a -> b -> c" in str(caught.value.message_dict["fallback"])


def test_a_loop_of_two_is_refused():
    a, b = chain("a", "b")
    b.fallback = a
    with pytest.raises(ValidationError) as caught:
        b.full_clean()
    assert "b -> a -> b" in str(caught.value.message_dict["fallback"])


def test_a_loop_is_refused_by_the_model_form_and_nothing_is_saved():
    a, b, c = chain("a", "b", "c")
    form = ImageModelForm(instance=c, data={"vendor": c.vendor_id, "name": "c", "enabled": "on", "fallback": a.pk})
    assert not form.is_valid()
    assert "c -> a -> b -> c" in " ".join(form.errors["fallback"])
    assert ImageModel.objects.get(pk=c.pk).fallback_id is None


def test_joining_a_chain_that_already_loops_is_refused():
    a, b = chain("a", "b")
    ImageModel.objects.filter(pk=b.pk).update(fallback=a)  # a loop made behind the model's back
    newcomer = ImageModel(vendor=a.vendor, name="new", fallback=a)
    with pytest.raises(ValidationError) as caught:
        newcomer.full_clean()
    assert "new -> a -> b -> a" in str(caught.value.message_dict["fallback"])


def test_a_chain_without_a_loop_saves_and_renames_are_fine():
    a, b, c = chain("a", "b", "c")
    b.name = "b2"
    b.full_clean()
    b.save()
    assert [m.fallback.name if m.fallback else None for m in ImageModel.objects.order_by("name")] == ["b2", "c", None]


def test_deleting_a_fallback_model_leaves_the_chain_short():
    a, b, c = chain("a", "b", "c")
    b.delete()
    a.refresh_from_db()
    assert a.fallback is None
