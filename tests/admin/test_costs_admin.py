"""Prices, costs and usage in admin, as a superuser sees them: the price table on the model page, the
optimizer's token prices, costs in the ledger, the usage page and the ledger's CSV export."""

import csv
import io
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from imagegen import usage
from imagegen.models import Generation, OptimizerSettings
from tests.admin.test_vendor_admin import formset, model_post, model_url
from tests.factories import make_model, make_vendor
from vendors.models import ModelPrice

pytestmark = pytest.mark.django_db(transaction=True)  # the CSV export reads its pages on the database's threads


def page_text(response) -> str:
    return unescape(response.content.decode())


def row(at: datetime, **fields) -> Generation:
    values = {"model": "flux-schnell", "served_model": "flux-schnell", "status": "success", "cost_currency": "USD"}
    generation = Generation.objects.create(**{**values, **fields})
    Generation.objects.filter(pk=generation.pk).update(created_at=at)
    return generation


# --- the price table and the optimizer's prices -------------------------------------------------------


def test_prices_are_edited_on_the_image_models_page(admin_client):
    model = make_model(make_vendor(name="sf"), name="flux-schnell")
    prices = [
        {"max_megapixels": "1.0", "quality": "", "price_per_image": "0.03"},
        {"max_megapixels": "", "quality": " HD", "price_per_image": "0.08"},
    ]

    response = admin_client.post(model_url(model), {**model_post(model), **formset("prices", prices)})

    assert response.status_code == 302, page_text(response)
    saved = set(ModelPrice.objects.values_list("max_megapixels", "quality", "price_per_image"))
    assert saved == {(None, "hd", Decimal("0.08")), (Decimal("1.0"), "", Decimal("0.03"))}
    page = page_text(admin_client.get(model_url(model)))
    assert "Prices per image" in page and "0.080000" in page


def test_a_negative_price_is_refused(admin_client):
    model = make_model(make_vendor(name="sf"), name="flux-schnell")
    prices = [{"max_megapixels": "", "quality": "", "price_per_image": "-0.01"}]

    response = admin_client.post(model_url(model), {**model_post(model), **formset("prices", prices)})

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0" in page_text(response)
    assert not ModelPrice.objects.exists()


def test_the_optimizer_settings_take_prices_per_million_tokens(admin_client):
    llm = make_vendor(name="llm", kind="openai_chat")
    body = {
        "mode": "fast",
        "vendor": str(llm.pk),
        "model": "deepseek-chat",
        "time_budget": "20",
        "max_words": "50",
        "client_modes": "off",
        "input_price_per_million": "0.27",
        "output_price_per_million": "1.10",
    }

    response = admin_client.post(reverse("admin:imagegen_optimizersettings_add"), body)

    assert response.status_code == 302, page_text(response)
    settings = OptimizerSettings.load()
    assert (settings.input_price_per_million, settings.output_price_per_million) == (Decimal("0.27"), Decimal("1.1"))


# --- the ledger -----------------------------------------------------------------------------------


def test_the_ledger_shows_each_rows_cost_or_that_it_is_unknown(admin_client):
    now = datetime.now(UTC)
    priced = row(now, vendor_cost=Decimal("0.04"), optimizer_cost=Decimal("0.0000645"), image_count=1)
    row(now, model="unpriced", vendor_cost=None, optimizer_cost=Decimal(0), image_count=1)

    listing = page_text(admin_client.get(reverse("admin:imagegen_generation_changelist")))
    detail = page_text(admin_client.get(reverse("admin:imagegen_generation_change", args=[priced.pk])))

    assert "0.040065 USD" in listing and "unknown" in listing
    assert "Export CSV (these filters)" in listing
    assert "0.04000000" in detail and "0.00006450" in detail


def export(admin_client, query: str = "", *, pages: int | None = None) -> list[list[str]]:
    response = admin_client.get(reverse("admin:imagegen_generation_export") + query)
    assert response.status_code == 200
    assert response.streaming and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="ledger-')
    with warnings.catch_warnings():  # the test client is synchronous: it reads the async stream through async_to_sync
        warnings.filterwarnings("ignore", "StreamingHttpResponse must consume asynchronous iterators")
        chunks = list(response)
    if pages is not None:
        assert len(chunks) == 1 + pages  # the header, then one chunk per page read
    return list(csv.reader(io.StringIO(b"".join(chunks).decode())))


def test_the_csv_export_keeps_the_changelists_filters_and_search(admin_client):
    now = datetime.now(UTC)
    row(now, user_prompt="a red fox", vendor_cost=Decimal("0.04"), optimizer_cost=Decimal(0), image_count=1)
    row(now, user_prompt="a red fox", status="failed", error_code="upstream_error")
    row(now, user_prompt="a blue whale", vendor_cost=Decimal("0.04"), optimizer_cost=Decimal(0))

    header, *rows = export(admin_client, "?status__exact=success&q=fox")

    assert header[:5] == ["id", "created_at", "status", "endpoint", "client_label"]
    assert len(rows) == 1
    line = dict(zip(header, rows[0], strict=True))
    assert (line["user_prompt"], line["vendor_cost"], line["cost_currency"]) == ("a red fox", "0.04000000", "USD")


def test_the_csv_export_streams_every_row_newest_first_and_defuses_formulas(admin_client):
    now = datetime.now(UTC)
    Generation.objects.bulk_create(
        Generation(model="flux-schnell", status="success", user_prompt=f"idea {i}", created_at=now) for i in range(4500)
    )
    row(now, user_prompt='=HYPERLINK("http://x.example")', end_user="@admin")

    header, *rows = export(admin_client, pages=3)

    assert len(rows) == 4501  # more than two pages of the export, each sent as it is read
    ids = [int(line[0]) for line in rows]
    assert ids == sorted(ids, reverse=True)
    newest = dict(zip(header, rows[0], strict=True))
    assert newest["user_prompt"] == '\'=HYPERLINK("http://x.example")' and newest["end_user"] == "'@admin"


def test_the_csv_export_needs_an_admin_login(client):
    response = client.get(reverse("admin:imagegen_generation_export"))

    assert response.status_code == 302 and "/login/" in response["Location"]


# --- the usage page -------------------------------------------------------------------------------

TODAY = date(2026, 12, 15)


def at(day: int, month: int = 12, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture
def ledger(monkeypatch):
    monkeypatch.setattr(usage, "local_today", lambda: TODAY)
    cost = {"cost_currency": "USD", "optimizer_cost": Decimal(0)}
    row(
        at(15, hour=9),
        client_label="app-a",
        image_count=2,
        vendor_cost=Decimal("0.08"),
        optimizer_cost=Decimal("0.0001"),
    )
    row(
        at(15),
        client_label="app-a",
        served_model="flux-pro",
        image_count=1,
        vendor_cost=None,
        optimizer_cost=Decimal(0),
    )
    row(at(15, hour=11), client_label="app-a", status="pending", cost_currency="", optimizer_cost=None)
    row(at(15), client_label="app-b", status="failed", vendor_cost=Decimal(0), optimizer_cost=Decimal("0.00002"))
    row(at(3), client_label="app-b", image_count=1, vendor_cost=Decimal("0.04"), **cost)
    row(at(30, month=11), client_label="app-b", image_count=4, vendor_cost=Decimal("0.16"), **cost)
    row(at(1, month=11), client_label="app-b", image_count=9, vendor_cost=Decimal("0.36"), **cost)  # 44 days ago


def figures(rows, name, period):
    [found] = [line for line in rows if line["name"] == name]
    return tuple(found[f"{period}_{field}"] for field in ("requests", "images", "cost", "unknown"))


def test_usage_per_client_key_today_and_this_month(admin_client, ledger):
    response = admin_client.get(reverse("admin:imagegen_usage_changelist"))

    assert response.status_code == 200
    by_client = response.context["by_client"]
    assert figures(by_client, "app-a", "today") == (3, 3, Decimal("0.0801"), 1)  # the pending row is a request only
    assert figures(by_client, "app-a", "month") == (3, 3, Decimal("0.0801"), 1)
    assert figures(by_client, "app-b", "today") == (1, 0, Decimal("0.00002"), 0)
    assert figures(by_client, "app-b", "month") == (2, 1, Decimal("0.04002"), 0)
    page = page_text(response)
    assert "Per client key" in page and "0.080100" in page and "0.040020" in page


def test_usage_per_model_is_by_the_model_that_made_the_images(admin_client, ledger):
    by_model = admin_client.get(reverse("admin:imagegen_usage_changelist")).context["by_model"]

    assert figures(by_model, "flux-pro", "month") == (1, 1, None, 1)
    assert figures(by_model, "flux-schnell", "month") == (4, 3, Decimal("0.12012"), 0)


def test_usage_per_day_covers_the_last_31_days_quiet_ones_too(admin_client, ledger):
    days = admin_client.get(reverse("admin:imagegen_usage_changelist")).context["days"]

    assert len(days) == 31 and days[0]["day"] == TODAY and days[-1]["day"] == date(2026, 11, 15)
    by_day = {line["day"]: (line["requests"], line["images"], line["cost"], line["unknown"]) for line in days}
    assert by_day[TODAY] == (4, 3, Decimal("0.08012"), 1)
    assert by_day[date(2026, 11, 30)] == (1, 4, Decimal("0.16"), 0)
    assert by_day[date(2026, 12, 14)] == (0, 0, None, 0)


def test_usage_filtered_to_one_client_key(admin_client, ledger):
    response = admin_client.get(reverse("admin:imagegen_usage_changelist") + "?client=app-b")

    assert [line["name"] for line in response.context["by_client"]] == ["app-b"]
    assert figures(response.context["by_model"], "flux-schnell", "month") == (2, 1, Decimal("0.04002"), 0)
    assert 'value="app-b" selected' in page_text(response)


def test_the_usage_page_is_linked_from_the_admin_index(admin_client):
    index = page_text(admin_client.get(reverse("admin:index")))

    assert reverse("admin:imagegen_usage_changelist") in index


def test_the_usage_page_renders_with_an_empty_ledger(admin_client):
    response = admin_client.get(reverse("admin:imagegen_usage_changelist"))

    assert response.status_code == 200
    assert "No requests this month." in page_text(response)
    assert all(day["requests"] == 0 and day["cost"] is None for day in response.context["days"])
