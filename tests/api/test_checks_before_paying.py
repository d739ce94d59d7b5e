"""Everything that can refuse a request refuses it before a vendor is called: the Host, the body's
depth, text that cannot be sent or stored, and the length caps. A real fake vendor counts the calls."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from imagegen.models import Generation
from proxy.models import StoredImage
from tests.factories import client_key_row
from tests.gateway_process import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

CLIENT_KEY = "client-key-for-checks-0001"
IMAGE_LINK = re.compile(r"!\[image\]\((?P<url>[^)]+)\)")


@pytest.fixture(autouse=True)
def _bootstrap_key(settings):
    client_key_row(CLIENT_KEY)


def post(client, path, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    headers.setdefault("HTTP_AUTHORIZATION", f"Bearer {CLIENT_KEY}")
    return client.post(path, data=data, content_type="application/json", **headers)


def chat_body(content="a red fox", **extra):
    return {"model": "flux-schnell", "messages": [{"role": "user", "content": content}], **extra}


def images_body(prompt="a red fox", **extra):
    return {"model": "flux-schnell", "prompt": prompt, **extra}


def bad(param):
    """A 400 invalid_request naming ``param``: the arguments ``refused`` takes after the response."""
    return 400, "invalid_request", param


def refused(response, status, code, param=None):
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["param"] == param
    return error


def assert_nothing_paid_or_stored(sf, settings):
    assert sf.requests == [], "the vendor was called for a request that was refused"
    assert StoredImage.objects.count() == 0
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not any(path.is_file() for path in media.rglob("*"))


# --- Host (refusals on the API paths, which skip Django's middleware: test_edge_over_http.py) -------


def test_image_links_are_built_on_the_allowed_host_the_request_came_on(client, flux, settings):
    settings.ALLOWED_HOSTS = ["img.example.com"]
    response = post(client, "/v1/chat/completions", chat_body(), HTTP_HOST="img.example.com")
    assert response.status_code == 200, response.content
    url = IMAGE_LINK.search(response.json()["choices"][0]["message"]["content"])["url"]
    assert url.startswith("http://img.example.com/images/")


def test_image_links_use_the_public_base_url_whatever_allowed_host_was_asked(client, flux, settings):
    settings.ALLOWED_HOSTS = ["img.example.com", "internal.lan"]
    settings.PUBLIC_BASE_URL = "https://images.example.org"
    response = post(client, "/v1/images/generations", images_body(), HTTP_HOST="internal.lan")
    assert response.json()["data"][0]["url"].startswith("https://images.example.org/images/")


def test_the_admin_refuses_a_host_that_is_not_allowed_with_an_openai_shaped_400(client, settings):
    settings.ALLOWED_HOSTS = ["img.example.com"]
    refused(client.get("/admin/login/", HTTP_HOST="attacker.example"), 400, "invalid_host")


def test_make_run_binds_to_the_bind_setting(tmp_path):
    result = subprocess.run(
        ["make", "-n", "run", "BIND=127.0.0.1", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert "--bind 127.0.0.1:8123" in result.stdout, result.stdout + result.stderr
    default = subprocess.run(["make", "-n", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "--bind 0.0.0.0:8000" in default.stdout


# --- body shape and depth -------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_a_body_nested_deeper_than_32_levels_is_a_400_before_any_vendor_call(client, flux, sf, settings, depth):
    body = '{"model": "flux-schnell", "messages": [{"role": "user", "content": "a fox"}], "extra": ' + nested(depth - 1)
    error = refused(post(client, "/v1/chat/completions", body + "}"), 400, "invalid_request")
    assert "nested more than 32 levels" in error["message"]
    assert_nothing_paid_or_stored(sf, settings)


def test_a_body_nested_32_levels_is_accepted(client, flux):
    body = '{"model": "flux-schnell", "prompt": "a fox", "extra": ' + nested(31) + "}"
    assert post(client, "/v1/images/generations", body).status_code == 200


@pytest.mark.parametrize(
    "message",
    [
        {"role": ["user"], "content": "a fox"},
        {"role": {"user": 1}, "content": "a fox"},
        {"role": "user", "content": [{"type": ["text"], "text": "a fox"}]},
    ],
)
def test_a_message_with_fields_of_the_wrong_type_is_a_400_not_a_500(client, flux, sf, settings, message):
    response = post(client, "/v1/chat/completions", {"model": "flux-schnell", "messages": [message]})
    assert response.status_code == 400, response.content
    assert_nothing_paid_or_stored(sf, settings)


def test_more_than_1000_messages_is_a_400(client, flux, sf, settings):
    messages = [{"role": "user", "content": "a fox"}] * 1001
    refused(post(client, "/v1/chat/completions", {"model": "flux-schnell", "messages": messages}), *bad("messages"))
    assert_nothing_paid_or_stored(sf, settings)


# --- text that cannot be sent or stored -------------------------------------------------------------

UNSAFE = {
    "a lone surrogate": "\ud800",
    "a NUL": "\x00",
    "an escape": "\x1b[31m",
    "a backspace": "\x08",
    "a DEL": "\x7f",
}


@pytest.mark.parametrize("what", UNSAFE)
def test_unsafe_characters_in_the_chat_prompt_are_a_400_naming_the_message(client, flux, sf, settings, what):
    body = chat_body(f"a red fox {UNSAFE[what]} in snow")
    body["messages"].insert(0, {"role": "system", "content": "draw"})
    error = refused(post(client, "/v1/chat/completions", body), *bad("messages.1.content"))
    assert "position 10" in error["message"]
    assert_nothing_paid_or_stored(sf, settings)
    assert Generation.objects.count() == 0


def test_unsafe_characters_in_a_content_part_name_the_part(client, flux, sf, settings):
    parts = [{"type": "text", "text": "a red fox"}, {"type": "text", "text": "in \x00 snow"}]
    refused(post(client, "/v1/chat/completions", chat_body(parts)), *bad("messages.0.content.1.text"))
    assert_nothing_paid_or_stored(sf, settings)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", chat_body(user="me\x00"), "user"),
        ("/v1/chat/completions", chat_body(model="flux\x07"), "model"),
        ("/v1/chat/completions", chat_body(size="1024x\x001024"), "size"),
        ("/v1/images/generations", images_body("a red fox \ud83d"), "prompt"),
        ("/v1/images/generations", images_body("a red fox \x00"), "prompt"),
        ("/v1/images/generations", images_body("a red fox \x1b"), "prompt"),
        ("/v1/images/generations", images_body(quality="h\x0bd"), "quality"),
        ("/v1/images/generations", images_body(style="viv\x1fid"), "style"),
        ("/v1/images/generations", images_body(user="\udc00"), "user"),
    ],
)
def test_unsafe_characters_in_any_field_are_a_400_naming_it(client, flux, sf, settings, path, body, param):
    refused(post(client, path, body), *bad(param))
    assert_nothing_paid_or_stored(sf, settings)


def test_tabs_line_breaks_and_any_script_are_no_false_alarm(client, flux, sf):
    prompt = "a red fox\tin snow\r\nwatercolour, 狐狸, лиса, 🦊"
    assert post(client, "/v1/chat/completions", chat_body(prompt)).status_code == 200
    assert post(client, "/v1/images/generations", images_body(prompt)).status_code == 200
    assert len(sf.requests) >= 2


# --- length caps ------------------------------------------------------------------------------------


def test_a_chat_prompt_over_32000_characters_is_a_400_naming_the_message(client, flux, sf, settings):
    error = refused(post(client, "/v1/chat/completions", chat_body("a" * 32_001)), *bad("messages.0.content"))
    assert "32001 characters" in error["message"] and "32000" in error["message"]
    assert_nothing_paid_or_stored(sf, settings)


def test_an_images_prompt_over_32000_characters_is_a_400(client, flux, sf, settings):
    refused(post(client, "/v1/images/generations", images_body("a" * 32_001)), *bad("prompt"))
    assert_nothing_paid_or_stored(sf, settings)


def test_the_prompt_cap_is_a_setting_and_counts_the_joined_text_parts(client, flux, sf, settings):
    settings.MAX_PROMPT_CHARS = 20
    parts = [{"type": "text", "text": "a red fox"}, {"type": "text", "text": "in deep snow"}]  # 9 + 1 + 12
    refused(post(client, "/v1/chat/completions", chat_body(parts)), *bad("messages.0.content"))
    refused(post(client, "/v1/images/generations", images_body("x" * 21)), *bad("prompt"))
    assert sf.requests == []
    assert post(client, "/v1/images/generations", images_body("x" * 20)).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", chat_body(model="m" * 201), "model"),
        ("/v1/chat/completions", chat_body(user="u" * 201), "user"),
        ("/v1/chat/completions", chat_body(size="1" * 21), "size"),
        ("/v1/images/generations", images_body(model="m" * 201), "model"),
        ("/v1/images/generations", images_body(user="u" * 201), "user"),
        ("/v1/images/generations", images_body(quality="q" * 21), "quality"),
        ("/v1/images/generations", images_body(style="s" * 51), "style"),
        ("/v1/chat/completions", chat_body(style="s" * 51), "style"),
    ],
)
def test_every_other_text_field_has_a_cap(client, flux, sf, settings, path, body, param):
    refused(post(client, path, body), *bad(param))
    assert_nothing_paid_or_stored(sf, settings)
