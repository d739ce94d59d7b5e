import re
from html import unescape

from django.urls import reverse

from imagegen.models import ClientKey, Generation, OptimizerSettings, hash_client_key
from proxy.models import StoredImage
from vendors.models import Vendor

RAW_KEY_RE = re.compile(r"sk-ig-[A-Za-z0-9_\-]{20,}")


def page_text(response) -> str:
    return unescape(response.content.decode())


def stored_image(**fields) -> StoredImage:
    defaults = {
        "sha256": "0" * 64,
        "file": "ab/cd.png",
        "content_type": "image/png",
        "extension": "png",
        "width": 1024,
        "height": 576,
        "byte_size": 2048,
        "vendor": "flux",
    }
    return StoredImage.objects.create(**{**defaults, **fields})


def generation(**fields) -> Generation:
    defaults = {"model": "flux-pro", "vendor_name": "flux", "status": "success", "user_prompt": "a red fox"}
    return Generation.objects.create(**{**defaults, **fields})


# --- client keys ----------------------------------------------------------------------------------


def test_adding_a_client_key_shows_the_raw_key_once_and_stores_only_its_hash(admin_client):
    response = admin_client.post(reverse("admin:imagegen_clientkey_add"), {"name": "mobile app"}, follow=True)

    assert response.status_code == 200
    text = page_text(response)
    assert "Copy it now: it will not be shown again" in text
    raw = RAW_KEY_RE.search(text).group(0)
    key = ClientKey.objects.get()
    assert (key.name, key.enabled) == ("mobile app", True)
    assert key.hashed_key == hash_client_key(raw)
    assert raw not in f"{key.prefix}{key.hashed_key}{key.last4}"

    for url in (
        reverse("admin:imagegen_clientkey_changelist"),
        reverse("admin:imagegen_clientkey_change", args=[key.pk]),
    ):
        again = admin_client.get(url)
        assert raw not in again.content.decode()
        assert "Copy it now" not in page_text(again)
    assert key.masked in page_text(admin_client.get(reverse("admin:imagegen_clientkey_changelist")))


def test_the_client_key_add_form_asks_only_for_a_name(admin_client):
    response = admin_client.get(reverse("admin:imagegen_clientkey_add"))

    assert list(response.context["adminform"].form.fields) == ["name"]


def test_client_keys_can_be_disabled_from_the_list(admin_client):
    key, _ = ClientKey.generate("team")
    key.save()

    admin_client.post(
        reverse("admin:imagegen_clientkey_changelist"), {"action": "disable_keys", "_selected_action": [str(key.pk)]}
    )

    key.refresh_from_db()
    assert key.enabled is False


# --- the ledger -----------------------------------------------------------------------------------


def test_the_ledger_cannot_be_added_to_changed_or_deleted(admin_client):
    row = generation()

    assert admin_client.get(reverse("admin:imagegen_generation_add")).status_code == 403
    change = reverse("admin:imagegen_generation_change", args=[row.pk])
    assert admin_client.post(change, {"model": "other", "status": "failed"}).status_code == 403
    assert admin_client.post(reverse("admin:imagegen_generation_delete", args=[row.pk])).status_code == 403
    row.refresh_from_db()
    assert (row.model, row.status) == ("flux-pro", "success")


def test_the_ledger_list_is_newest_first_with_a_thumbnail_of_the_first_image(admin_client):
    older = generation(model="older")
    newer = generation(model="newer", latency_ms=1234, generated_size="1024x576")
    first, second = stored_image(), stored_image(extension="webp")
    newer.images.add(first, second)

    response = admin_client.get(reverse("admin:imagegen_generation_changelist"))

    assert [row.pk for row in response.context["cl"].result_list] == [newer.pk, older.pk]
    html = response.content.decode()
    assert f'<img src="/images/{first.token}.png"' in html
    assert "height:48px" in html
    assert f"/images/{second.token}.webp" not in html
    assert "1234" in html and "1024x576" in html


def test_the_ledger_searches_the_user_prompt_and_the_sent_prompt(admin_client):
    generation(user_prompt="a red fox")
    generation(user_prompt="x", prompt="a blue whale, studio light")
    generation(user_prompt="a green frog")

    url = reverse("admin:imagegen_generation_changelist")
    found = {
        q: [g.user_prompt for g in admin_client.get(url, {"q": q}).context["cl"].result_list] for q in ("fox", "whale")
    }

    assert found == {"fox": ["a red fox"], "whale": ["x"]}


def test_the_ledger_detail_shows_the_fields_and_every_image(admin_client):
    row = generation(error_code="", prompt="an optimized prompt", key_label="key …abcd")
    images = [stored_image(), stored_image()]
    row.images.add(*images)

    response = admin_client.get(reverse("admin:imagegen_generation_change", args=[row.pk]))

    text = page_text(response)
    assert "an optimized prompt" in text and "a red fox" in text and "key …abcd" in text
    for image in images:
        assert f'<img src="{image.path}"' in text
    assert 'name="_save"' not in text


# --- the prompt optimizer -------------------------------------------------------------------------


def test_the_optimizer_list_goes_straight_to_its_single_row(admin_client):
    OptimizerSettings.load()

    response = admin_client.get(reverse("admin:imagegen_optimizersettings_changelist"))

    assert response.status_code == 302
    assert response.url == reverse("admin:imagegen_optimizersettings_change", args=[1])


def test_the_optimizer_list_offers_the_add_page_while_there_is_no_row(admin_client):
    response = admin_client.get(reverse("admin:imagegen_optimizersettings_changelist"))

    assert response.url == reverse("admin:imagegen_optimizersettings_add")


def test_a_second_optimizer_row_and_deleting_the_row_are_refused(admin_client):
    OptimizerSettings.load()

    assert admin_client.get(reverse("admin:imagegen_optimizersettings_add")).status_code == 403
    assert admin_client.post(reverse("admin:imagegen_optimizersettings_delete", args=[1])).status_code == 403
    assert OptimizerSettings.objects.count() == 1


def test_the_optimizer_offers_only_openai_chat_vendors_and_saves_its_row(admin_client):
    llm = Vendor.objects.create(name="llm", kind="openai_chat", base_url="https://api.openai.com/v1")
    Vendor.objects.create(name="flux", kind="siliconflow", base_url="https://api.siliconflow.cn/v1")
    OptimizerSettings.load()
    url = reverse("admin:imagegen_optimizersettings_change", args=[1])

    form = admin_client.get(url).context["adminform"].form
    assert list(form.fields["vendor"].queryset) == [llm]

    response = admin_client.post(
        url,
        {
            "mode": "reasoning",
            "client_modes": "all",
            "vendor": str(llm.pk),
            "model": "o3-mini",
            "time_budget": "15",
            "max_words": "40",
        },
    )

    assert response.status_code == 302
    row = OptimizerSettings.objects.get()
    assert (row.mode, row.vendor, row.model, row.time_budget) == ("reasoning", llm, "o3-mini", 15)
    assert row.client_modes == "all"


# --- stored images --------------------------------------------------------------------------------


def test_stored_images_are_listed_read_only_with_a_thumbnail_and_dimensions(admin_client):
    image = stored_image()

    response = admin_client.get(reverse("admin:proxy_storedimage_changelist"))

    html = page_text(response)
    assert f'<img src="/images/{image.token}.png"' in html
    assert "1024×576" in html
    assert "2.0\xa0KB" in html
    assert admin_client.get(reverse("admin:proxy_storedimage_add")).status_code == 403
    assert admin_client.post(reverse("admin:proxy_storedimage_delete", args=[image.pk])).status_code == 403
