from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import make_key, make_model, make_vendor
from vendors.models import ImageModel, ModelPrice
from vendors.pricing import PriceRow
from vendors.selectors import ModelRoute, build_routing_table
from vendors.size_rules import SizeCapability

pytestmark = pytest.mark.django_db


def link(*models):
    """Point each model's fallback at the next one."""
    for model, following in zip(models, models[1:], strict=False):
        model.fallback = following
        model.save()


def test_a_route_carries_the_models_size_rules_parsed():
    make_model(
        make_vendor(),
        name="sd3",
        size_format="aspect_ratio",
        allowed_ratios="16:9 1:1 21:9",
        size_multiple=64,
        max_megapixels=1.0,
        default_size="1024x1024",
    )

    route = build_routing_table().models["sd3"]

    assert route.size_format == "aspect_ratio"
    assert route.default_size == "1024x1024"
    assert route.capability == SizeCapability(ratios=((16, 9), (1, 1), (21, 9)), multiple_of=64, max_megapixels=1.0)


def test_a_model_without_size_rules_is_unconstrained_and_has_no_fallbacks():
    make_model(make_vendor(), name="plain")

    route = build_routing_table().models["plain"]

    assert (route.size_format, route.capability.unconstrained, route.fallback_names) == ("", True, ())
    assert route.fallback_on_content_policy is False


def test_the_fallback_chain_skips_a_disabled_model_but_follows_its_fallback():
    first, second = make_vendor(name="first"), make_vendor(name="second")
    a = make_model(first, name="a", fallback_on_content_policy=True)
    b = make_model(first, name="b", enabled=False)
    c = make_model(second, name="c")
    d = make_model(second, name="d")
    link(a, b, c, d)

    table = build_routing_table()

    assert table.models["a"].fallback_names == ("c", "d")
    assert table.models["a"].fallback_on_content_policy is True
    assert "b" not in table.models
    assert table.models["c"].fallback_names == ("d",)
    assert table.models["d"].fallback_names == ()


def test_the_fallback_chain_skips_models_of_a_disabled_vendor():
    off = make_vendor(name="off", enabled=False)
    on = make_vendor(name="on")
    a = make_model(on, name="a")
    b = make_model(off, name="b")
    c = make_model(on, name="c")
    link(a, b, c)

    assert build_routing_table().models["a"].fallback_names == ("c",)


def test_a_loop_made_behind_the_models_back_ends_the_chain():
    vendor = make_vendor()
    a, b, c = (make_model(vendor, name=name) for name in "abc")
    link(a, b, c)
    ImageModel.objects.filter(pk=c.pk).update(fallback=a)  # save() would refuse this

    table = build_routing_table()

    assert table.models["a"].fallback_names == ("b", "c")
    assert table.models["b"].fallback_names == ("c", "a")
    assert table.models["c"].fallback_names == ("a", "b")


def test_bad_size_rules_saved_past_validation_do_not_take_the_table_down(caplog):
    vendor = make_vendor()
    make_model(vendor, name="broken")
    make_model(vendor, name="fine", allowed_sizes="1024x1024")
    ImageModel.objects.filter(name="broken").update(allowed_sizes="nonsense")

    table = build_routing_table()

    assert table.models["broken"].capability == SizeCapability()
    assert table.models["fine"].capability.sizes == ((1024, 1024),)
    assert "broken" in caplog.text


def test_building_the_table_takes_four_queries_however_many_models_chains_and_prices():
    vendor = make_vendor()
    make_key(vendor, "sk-one-1111")
    models = [make_model(vendor, name=f"m{i}", allowed_sizes="1024x1024") for i in range(6)]
    link(*models)
    for model in models:
        ModelPrice.objects.create(model=model, price_per_image=Decimal("0.01"), max_megapixels=Decimal("1"))
        ModelPrice.objects.create(model=model, price_per_image=Decimal("0.02"))

    with CaptureQueriesContext(connection) as queries:
        table = build_routing_table()

    assert len(queries) == 4
    assert table.models["m0"].fallback_names == ("m1", "m2", "m3", "m4", "m5")
    assert [row.price for row in table.models["m3"].prices] == [Decimal("0.01"), Decimal("0.02")]


def test_a_models_route_carries_its_prices_with_the_quality_in_lower_case():
    model = make_model(make_vendor(), name="priced")
    assert build_routing_table().models["priced"].prices == ()

    ModelPrice.objects.create(model=model, price_per_image=Decimal("0.04"), quality="HD ")

    assert build_routing_table().models["priced"].prices == (PriceRow(None, "hd", Decimal("0.04")),)


def test_a_route_can_still_be_made_with_the_old_fields_only():
    route = ModelRoute(name="x", upstream_name="x", default_size="", created=0, vendor=None)
    assert (route.size_format, route.capability, route.fallback_names, route.fallback_on_content_policy) == (
        "",
        SizeCapability(),
        (),
        False,
    )
