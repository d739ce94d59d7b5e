"""A client key's monthly budget is edited on its admin page, in PRICE_CURRENCY, with the other limits."""

from decimal import Decimal
from html import unescape

from django.urls import reverse

from imagegen.models import ClientKey
from tests.factories import make_client_key


def change(admin_client, key, budget: str):
    form = {"name": key.name, "enabled": "on", "allowed_models": "", "requests_per_minute": ""}
    form |= {"max_in_flight": "", "images_per_day": "", "monthly_budget": budget}
    form |= {"expires_at_0": "", "expires_at_1": ""}
    return admin_client.post(reverse("admin:imagegen_clientkey_change", args=[key.pk]), form)


def test_a_budget_is_set_in_the_price_currency_and_shown_in_the_list(admin_client, settings):
    settings.PRICE_CURRENCY = "EUR"
    key, _ = make_client_key("team")

    page = admin_client.get(reverse("admin:imagegen_clientkey_change", args=[key.pk])).content.decode()
    assert "Monthly budget (EUR)" in page

    response = change(admin_client, key, "25.5")

    assert response.status_code == 302, unescape(response.content.decode())
    assert ClientKey.objects.get().monthly_budget == Decimal("25.5")
    listing = unescape(admin_client.get(reverse("admin:imagegen_clientkey_changelist")).content.decode())
    assert "25.50 EUR/month" in listing

    assert change(admin_client, key, "").status_code == 302
    assert ClientKey.objects.get().monthly_budget is None  # blank: unlimited


def test_a_negative_budget_is_refused(admin_client):
    key, _ = make_client_key("team")

    response = change(admin_client, key, "-1")

    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    assert ClientKey.objects.get().monthly_budget is None
