"""Style presets in admin: the form saves a preset a request can use at once, refuses OpenAI's style names and
bad ratios, and the list and the form render in headless Chromium (screenshots in $SCREENSHOT_DIR or tmp_path)."""

from __future__ import annotations

import asyncio

import pytest
from django.conf import settings as django_settings

from imagegen.models import StylePreset
from imagegen.styles import enabled_presets
from tests.admin.chromium import Browser, chromium_path

pytestmark = pytest.mark.django_db(transaction=True)

ADD = "/admin/imagegen/stylepreset/add/"


def form(**fields) -> dict:
    values = {"name": "watercolor", "description": "Soft washes", "guidance": "", "suffix": "watercolor painting"}
    values |= {"negative_prompt": "", "default_ratio": "", "enabled": "on"}
    return values | fields


def test_a_preset_saved_in_admin_is_chosen_at_once(admin_client):
    answer = admin_client.post(ADD, form(default_ratio="16:09"))

    assert answer.status_code == 302, answer.content.decode()[-2000:]
    assert StylePreset.objects.get().default_ratio == "16:9"
    presets = asyncio.run(enabled_presets())  # the save dropped this worker's snapshot
    assert list(presets) == ["watercolor"] and presets["watercolor"].suffix == "watercolor painting"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"name": "vivid"}, "OpenAI&#x27;s styles"),
        ({"name": "Water Color"}, "Enter a valid “slug”"),
        ({"default_ratio": "wide"}, "A ratio is W:H"),
        ({"default_ratio": "16:0"}, "A ratio is W:H"),
    ],
)
def test_the_form_refuses_names_and_ratios_a_request_could_not_use(admin_client, fields, problem):
    answer = admin_client.post(ADD, form(**fields))

    assert answer.status_code == 200 and problem in answer.content.decode()
    assert not StylePreset.objects.exists()


@pytest.mark.skipif(chromium_path() is None, reason="no Chromium installed")
def test_the_style_list_and_form_render_in_chromium(admin_client, live_server, shots, tmp_path):
    StylePreset.objects.create(
        name="watercolor", description="Soft washes", suffix="watercolor painting", negative_prompt="photo"
    )
    StylePreset.objects.create(name="noir", description="High-contrast black and white", default_ratio="3:2")
    StylePreset.objects.create(name="anime", description="Cel shading", enabled=False)
    cookies = {django_settings.SESSION_COOKIE_NAME: admin_client.cookies[django_settings.SESSION_COOKIE_NAME].value}

    with Browser.start(tmp_path / "profile") as browser:
        listed = browser.visit(
            f"{live_server.url}/admin/imagegen/stylepreset/",
            cookies=cookies,
            png=shots / "style_presets.png",
            evaluate="document.querySelector('#result_list').innerText",
        )
        page = browser.visit(
            f"{live_server.url}{ADD}",
            cookies=cookies,
            png=shots / "style_preset_form.png",
            evaluate="document.querySelector('#content').innerText",
        )

    assert listed.errors == [] and "watercolor" in listed.value and "High-contrast" in listed.value
    assert page.errors == [] and "Guidance" in page.value and "Negative prompt" in page.value
    assert (shots / "style_presets.png").stat().st_size > 5_000
