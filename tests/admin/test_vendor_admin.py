from html import unescape

import pytest
from django.urls import reverse

from vendors.models import ImageModel, Vendor, VendorKey

RAW = "sk-very-secret-vendor-key-9f3a"


def formset(prefix, rows, initial=0):
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for field, value in row.items():
            if value is True:
                value = "on"
            if value is not False:
                data[f"{prefix}-{i}-{field}"] = value
    return data


def vendor_post(name="flux", kind="siliconflow", models=(), keys=(), initial_models=0, initial_keys=0):
    data = {"name": name, "kind": kind, "base_url": "https://api.example.com/v1", "enabled": "on", "timeout": "120"}
    data.update(failures_to_disable="5", failure_window="20")
    data.update(formset("models", list(models), initial_models))
    data.update(formset("keys", list(keys), initial_keys))
    return data


def page_text(response) -> str:
    return unescape(response.content.decode())


def add_url():
    return reverse("admin:vendors_vendor_add")


def change_url(vendor):
    return reverse("admin:vendors_vendor_change", args=[vendor.pk])


def make_vendor(name="flux", kind="siliconflow", models=(), keys=()):
    vendor = Vendor.objects.create(name=name, kind=kind, base_url="https://api.example.com/v1")
    for model in models:
        ImageModel.objects.create(vendor=vendor, name=model)
    for raw in keys:
        key = VendorKey(vendor=vendor)
        key.secret = raw
        key.save()
    return vendor


def test_a_key_added_on_the_vendor_page_is_encrypted_at_rest_and_only_shown_masked(admin_client):
    response = admin_client.post(
        add_url(),
        vendor_post(models=[{"name": "flux-pro", "enabled": True}], keys=[{"label": "main", "secret": RAW}]),
    )
    assert response.status_code == 302, page_text(response)

    key = VendorKey.objects.get()
    assert key.secret == RAW
    assert RAW not in key.secret_encrypted and "9f3a" not in key.secret_encrypted
    page = admin_client.get(change_url(key.vendor))
    assert RAW not in page.content.decode()
    assert "…9f3a" in page_text(page)
    key_page = admin_client.get(reverse("admin:vendors_vendorkey_change", args=[key.pk]))
    assert RAW not in key_page.content.decode()
    assert "…9f3a" in page_text(key_page)


def test_a_typed_secret_is_not_echoed_back_when_the_page_has_errors(admin_client):
    data = vendor_post(keys=[{"secret": RAW}])
    data["base_url"] = "not a url"

    response = admin_client.post(add_url(), data)

    assert response.status_code == 200
    assert "Enter an http:// or https:// URL with a host." in page_text(response)
    assert RAW not in response.content.decode()


def test_leaving_the_secret_blank_on_an_existing_key_keeps_it(admin_client):
    vendor = make_vendor(keys=[RAW])
    key = vendor.keys.get()

    response = admin_client.post(
        change_url(vendor),
        vendor_post(keys=[{"id": str(key.pk), "label": "renamed", "secret": "", "enabled": True}], initial_keys=1),
    )

    assert response.status_code == 302, page_text(response)
    key.refresh_from_db()
    assert (key.label, key.secret) == ("renamed", RAW)


def test_a_new_secret_on_an_existing_key_replaces_it(admin_client):
    vendor = make_vendor(keys=[RAW])
    key = vendor.keys.get()

    response = admin_client.post(
        change_url(vendor),
        vendor_post(keys=[{"id": str(key.pk), "secret": "sk-rotated-key-0000", "enabled": True}], initial_keys=1),
    )

    assert response.status_code == 302, page_text(response)
    key.refresh_from_db()
    assert (key.secret, key.last4) == ("sk-rotated-key-0000", "0000")


def test_a_new_key_row_without_a_secret_is_refused(admin_client):
    vendor = make_vendor()

    response = admin_client.post(change_url(vendor), vendor_post(keys=[{"label": "forgot it", "enabled": True}]))

    assert response.status_code == 200
    assert "Enter the vendor&#x27;s API key." in response.content.decode()
    assert not VendorKey.objects.exists()


def test_the_same_key_twice_for_one_vendor_is_refused(admin_client):
    vendor = make_vendor(keys=[RAW])

    response = admin_client.post(
        change_url(vendor),
        vendor_post(
            keys=[{"id": str(vendor.keys.get().pk), "enabled": True}, {"secret": RAW, "enabled": True}],
            initial_keys=1,
        ),
    )

    assert response.status_code == 200
    assert "Vendor 'flux' already has this key." in page_text(response)
    assert VendorKey.objects.count() == 1


def test_the_same_new_key_in_two_rows_of_one_submit_is_refused(admin_client):
    response = admin_client.post(add_url(), vendor_post(keys=[{"secret": RAW}, {"secret": RAW}]))

    assert response.status_code == 200
    assert "This key is entered twice." in page_text(response)
    assert not Vendor.objects.exists()


def test_a_model_name_another_vendor_serves_is_refused_on_the_vendor_page_naming_that_vendor(admin_client):
    make_vendor(name="first", models=["flux-pro"])
    second = make_vendor(name="second", kind="chat_image")

    response = admin_client.post(
        change_url(second), vendor_post(name="second", kind="chat_image", models=[{"name": "flux-pro"}])
    )

    assert response.status_code == 200
    assert "Model name 'flux-pro' is already served by vendor 'first'." in page_text(response)
    assert ImageModel.objects.get(name="flux-pro").vendor.name == "first"


def test_a_model_name_another_vendor_serves_is_refused_when_adding_a_vendor(admin_client):
    make_vendor(name="first", models=["flux-pro"])

    response = admin_client.post(add_url(), vendor_post(name="second", models=[{"name": "flux-pro"}]))

    assert response.status_code == 200
    assert "already served by vendor 'first'" in page_text(response)
    assert list(Vendor.objects.values_list("name", flat=True)) == ["first"]


def test_two_new_rows_with_the_same_model_name_in_one_submit_are_refused(admin_client):
    vendor = make_vendor()

    response = admin_client.post(change_url(vendor), vendor_post(models=[{"name": "twin"}, {"name": "twin"}]))

    assert response.status_code == 200
    assert "Please correct the duplicate data for name" in page_text(response)
    assert not ImageModel.objects.exists()


def test_a_chat_vendor_cannot_get_image_models_on_its_page(admin_client):
    response = admin_client.post(add_url(), vendor_post(name="llm", kind="openai_chat", models=[{"name": "flux"}]))

    assert response.status_code == 200
    assert "cannot serve image models" in page_text(response)
    assert not Vendor.objects.exists()


def test_the_image_model_page_names_the_vendor_that_already_has_the_name(admin_client):
    make_vendor(name="first", models=["flux-pro"])
    second = make_vendor(name="second", kind="chat_image")

    response = admin_client.post(
        reverse("admin:vendors_imagemodel_add"), {"vendor": str(second.pk), "name": "flux-pro", "enabled": "on"}
    )

    assert response.status_code == 200
    assert "Model name 'flux-pro' is already served by vendor 'first'." in page_text(response)
    assert ImageModel.objects.count() == 1


def test_the_vendor_list_shows_model_and_key_counts(admin_client):
    make_vendor(models=["a", "b"], keys=["sk-1111", "sk-2222", "sk-3333"])

    response = admin_client.get(reverse("admin:vendors_vendor_changelist"))

    row = response.context["cl"].result_list[0]
    assert (row.model_count, row.key_count) == (2, 3)
    assert "sk-1111" not in response.content.decode()


def test_the_key_list_shows_state_but_never_the_secret(admin_client):
    vendor = make_vendor(keys=[RAW])
    VendorKey.objects.update(status="auto_disabled", failure_count=4, last_error="auth_failed: key revoked")

    response = admin_client.get(reverse("admin:vendors_vendorkey_changelist") + f"?vendor__id__exact={vendor.pk}")

    text = page_text(response)
    assert RAW not in text
    assert "…9f3a" in text and "Auto-disabled" in text and "key revoked" in text


@pytest.mark.parametrize("secret", ["", RAW])
def test_the_key_add_page_requires_a_new_unique_secret(admin_client, secret):
    vendor = make_vendor(keys=["sk-other-key-1234"] + ([RAW] if secret else []))

    response = admin_client.post(
        reverse("admin:vendors_vendorkey_add"), {"vendor": str(vendor.pk), "secret": secret, "enabled": "on"}
    )

    assert response.status_code == 200
    assert ("already has this key" if secret else "Enter the vendor's API key.") in page_text(response)


def test_the_reset_action_puts_auto_disabled_keys_back_into_rotation(admin_client):
    vendor = make_vendor(keys=["sk-aaaa-1111", "sk-bbbb-2222"])
    VendorKey.objects.update(status="auto_disabled", failure_count=5)
    first, second = vendor.keys.order_by("id")

    response = admin_client.post(
        reverse("admin:vendors_vendorkey_changelist"),
        {"action": "reset_keys", "_selected_action": [str(first.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.failure_count) == ("active", 0)
    assert (second.status, second.failure_count) == ("auto_disabled", 5)
    assert "1 had been auto-disabled" in page_text(response)


# --- the image model page: sizes and fallback ----------------------------------------------------


def model_post(model, **changes):
    data = {
        "vendor": str(model.vendor_id),
        "name": model.name,
        "upstream_name": model.upstream_name,
        "enabled": "on" if model.enabled else "",
        "default_size": model.default_size,
        "size_format": model.size_format,
        "allowed_sizes": model.allowed_sizes,
        "allowed_ratios": model.allowed_ratios,
        "size_multiple": model.size_multiple or "",
        "min_side": model.min_side or "",
        "max_side": model.max_side or "",
        "max_megapixels": model.max_megapixels or "",
        "fallback": str(model.fallback_id or ""),
        "fallback_on_content_policy": "on" if model.fallback_on_content_policy else "",
        "image_cache_seconds": str(model.image_cache_seconds),
        **formset("prices", []),
    }
    data.update(changes)
    return {field: value for field, value in data.items() if value != ""}


def model_url(model):
    return reverse("admin:vendors_imagemodel_change", args=[model.pk])


def test_size_rules_and_a_fallback_are_saved_from_the_model_page(admin_client):
    model = make_vendor(name="bfl", models=["flux-pro"]).models.get()
    other = make_vendor(name="fal", models=["flux-fal"]).models.get()

    response = admin_client.post(
        model_url(model),
        model_post(
            model,
            size_format="width_height",
            allowed_ratios="16:9, 1:1",
            size_multiple="32",
            min_side="256",
            max_side="1440",
            max_megapixels="1.5",
            fallback=str(other.pk),
            fallback_on_content_policy="on",
        ),
    )

    assert response.status_code == 302, page_text(response)
    model.refresh_from_db()
    assert (model.size_format, model.allowed_ratios, model.size_multiple, model.min_side, model.max_side) == (
        "width_height",
        "16:9, 1:1",
        32,
        256,
        1440,
    )
    assert (model.max_megapixels, model.fallback, model.fallback_on_content_policy) == (1.5, other, True)
    assert model.size_capability.ratios == ((16, 9), (1, 1))


def test_an_allowed_sizes_list_and_a_default_from_it_are_saved(admin_client):
    model = make_vendor(kind="openai_images", models=["dall-e-3"]).models.get()

    response = admin_client.post(
        model_url(model),
        model_post(model, size_format="size", allowed_sizes="1024x1024, 1792x1024", default_size="1792x1024"),
    )

    assert response.status_code == 302, page_text(response)
    model.refresh_from_db()
    assert model.size_capability.sizes == ((1024, 1024), (1792, 1024))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"allowed_sizes": "1024x1024, enormous"}, "'enormous' is not a size like 1024x768."),
        ({"allowed_ratios": "16:9 wide"}, "'wide' is not an aspect ratio like 16:9."),
        ({"allowed_sizes": "1024x1024", "default_size": "512x512"}, "512x512 is not one of the allowed sizes"),
        ({"min_side": "2048", "max_side": "1024"}, "The largest side must be at least the smallest side (2048)."),
    ],
)
def test_bad_size_rules_are_shown_on_the_model_page(admin_client, changes, message):
    model = make_vendor(models=["m"]).models.get()

    response = admin_client.post(model_url(model), model_post(model, **changes))

    assert response.status_code == 200
    assert message in page_text(response)
    model.refresh_from_db()
    assert (model.allowed_sizes, model.allowed_ratios, model.min_side) == ("", "", None)


def test_a_fallback_loop_is_refused_on_the_model_page_naming_the_chain(admin_client):
    vendor = make_vendor(models=["a", "b", "c"])
    a, b, c = vendor.models.order_by("name")
    ImageModel.objects.filter(pk=a.pk).update(fallback=b)
    ImageModel.objects.filter(pk=b.pk).update(fallback=c)

    response = admin_client.post(model_url(c), model_post(c, fallback=str(a.pk)))

    assert response.status_code == 200
    assert "This fallback makes a loop: c -> a -> b -> c." in page_text(response)
    c.refresh_from_db()
    assert c.fallback is None


def test_the_fallback_choices_list_models_of_every_vendor_but_not_the_model_itself(admin_client):
    model = make_vendor(name="first", models=["a"]).models.get()
    make_vendor(name="second", kind="openai_images", models=["b"])
    ImageModel.objects.filter(name="b").update(enabled=False)

    response = admin_client.get(model_url(model))

    field = response.context["adminform"].form.fields["fallback"]
    labels = [label for value, label in field.choices if value]
    assert labels == ["b (second, disabled)"]


def test_the_model_page_shows_the_fallback_chain(admin_client):
    vendor = make_vendor(models=["a", "b", "c"])
    a, b, c = vendor.models.order_by("name")
    ImageModel.objects.filter(pk=a.pk).update(fallback=b)
    ImageModel.objects.filter(pk=b.pk).update(fallback=c, enabled=False)

    response = admin_client.get(model_url(a))

    assert "a → b (skipped: disabled) → c" in page_text(response)


def post_stored_rows(admin_client, vendor, models, row=None, **vendor_fields):
    """The Vendor page submitted with these stored models as its rows, each changed by ``row``."""
    rows = [{"id": str(model.pk), "name": model.name, "enabled": True, **(row or {})} for model in models]
    return admin_client.post(change_url(vendor), vendor_post(models=rows, initial_models=len(rows), **vendor_fields))


def test_the_vendor_page_inline_refuses_a_default_size_outside_the_allowed_sizes(admin_client):
    vendor = make_vendor(models=["dall-e-3"])
    model = vendor.models.get()
    ImageModel.objects.filter(pk=model.pk).update(allowed_sizes="1024x1024, 1792x1024")

    response = post_stored_rows(admin_client, vendor, [model], row={"default_size": "512x512"})

    assert response.status_code == 200
    assert "512x512 is not one of the allowed sizes (1024x1024, 1792x1024)." in page_text(response)


def test_the_vendor_page_reports_bad_stored_rules_of_a_field_it_does_not_show(admin_client):
    vendor = make_vendor(models=["m"])
    model = vendor.models.get()
    ImageModel.objects.filter(pk=model.pk).update(allowed_ratios="wide")

    response = post_stored_rows(admin_client, vendor, [model])

    assert response.status_code == 200
    assert "Allowed ratios: 'wide' is not an aspect ratio like 16:9." in page_text(response)


def test_the_vendor_page_reports_a_stored_fallback_loop_it_does_not_show(admin_client):
    vendor = make_vendor(models=["a", "b"])
    a, b = vendor.models.order_by("name")
    ImageModel.objects.filter(pk=a.pk).update(fallback=b)
    ImageModel.objects.filter(pk=b.pk).update(fallback=a)

    response = post_stored_rows(admin_client, vendor, [a, b])

    assert response.status_code == 200
    assert "Fallback model: This fallback makes a loop: a -> b -> a." in page_text(response)


def test_a_chat_vendor_page_reports_the_image_models_it_still_has(admin_client):
    vendor = make_vendor(models=["m"])
    model = vendor.models.get()

    response = post_stored_rows(admin_client, vendor, [model], kind="openai_chat")

    assert response.status_code == 200
    assert "Vendor: Vendor 'flux' is a openai_chat vendor and cannot serve image models." in page_text(response)
    assert Vendor.objects.get().kind == "siliconflow"


def test_the_model_add_page_and_list_show_the_new_fields(admin_client):
    make_vendor(models=["m"])
    ImageModel.objects.update(allowed_ratios="16:9, 1:1", size_multiple=32, max_megapixels=1.0)

    add_page = admin_client.get(reverse("admin:vendors_imagemodel_add"))
    listing = admin_client.get(reverse("admin:vendors_imagemodel_changelist"))

    assert add_page.status_code == 200
    assert "Sizes" in page_text(add_page) and "Fallback" in page_text(add_page)
    assert "16:9, 1:1; ×32; ≤ 1 MP" in page_text(listing)


def test_the_image_cache_is_opted_into_on_the_model_page_and_shown_in_the_model_list(admin_client):
    model, other = make_vendor(name="sf", models=["flux-schnell", "flux-dev"]).models.order_by("name")
    assert model.image_cache_seconds == 0  # off by default

    response = admin_client.post(model_url(other), model_post(other, image_cache_seconds="3600"))

    assert response.status_code == 302, page_text(response)
    assert ImageModel.objects.get(pk=other.pk).image_cache_seconds == 3600
    listing = page_text(admin_client.get(reverse("admin:vendors_imagemodel_changelist")))
    assert "3600 s" in listing and "off" in listing
