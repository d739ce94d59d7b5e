"""A client key's limits are edited on its admin page; what is saved is what the API enforces."""

from html import unescape

from django.urls import reverse

from imagegen.models import ClientKey
from tests.factories import make_client_key, make_model, make_vendor


def change(admin_client, key, **fields):
    form = {"name": key.name, "enabled": "on", "allowed_models": "", "requests_per_minute": ""}
    form |= {"max_in_flight": "", "images_per_day": "", "expires_at_0": "", "expires_at_1": "", **fields}
    return admin_client.post(reverse("admin:imagegen_clientkey_change", args=[key.pk]), form)


def test_limits_are_set_on_the_keys_page_and_shown_in_the_list(admin_client):
    vendor = make_vendor()
    make_model(vendor, name="flux-schnell")
    make_model(vendor, name="flux-pro")
    key, _ = make_client_key("team")

    response = change(
        admin_client,
        key,
        allowed_models="flux-pro,  flux-schnell flux-pro",
        requests_per_minute="30",
        max_in_flight="2",
        images_per_day="100",
        expires_at_0="2030-01-31",
        expires_at_1="12:00:00",
    )

    assert response.status_code == 302, unescape(response.content.decode())
    key.refresh_from_db()
    assert (key.allowed_models, key.requests_per_minute, key.max_in_flight, key.images_per_day) == (
        "flux-pro, flux-schnell",
        30,
        2,
        100,
    )
    assert key.expires_at.year == 2030
    listing = unescape(admin_client.get(reverse("admin:imagegen_clientkey_changelist")).content.decode())
    assert "30/min; 2 in flight; 100 images/day; models: flux-pro, flux-schnell" in listing


def test_a_model_name_no_model_has_is_refused(admin_client):
    key, _ = make_client_key("team")

    response = change(admin_client, key, allowed_models="flux-typo")

    assert response.status_code == 200
    assert "No image model is named &#x27;flux-typo&#x27;" in response.content.decode()
    assert ClientKey.objects.get().allowed_models == ""
