"""The playground in a real browser (headless Chromium) against the real gateway (uvicorn in a subprocess)
and a SiliconFlow fake: a staff member signs in, types an idea, clicks Generate, sees the progress lines
and keep-alives while the vendor is still working, then the image and the prompt used in the gallery; and
a sketch drawn with the mouse and a finger goes out as a PNG data URL in an ``image_url`` part.

Screenshots go to $SCREENSHOT_DIR when it is set, else to the test's tmp_path. Skipped without Chromium."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.admin.chromium import Browser, Page, chromium_path
from tests.fakes.server import png_bytes
from tests.fakes.siliconflow import SiliconFlowFake
from tests.gateway_process import GatewayProcess

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(chromium_path() is None, reason="no Chromium installed")]

STAFF, PASSWORD = "grace", "pw-grace-playground-1"
VENDOR_LATENCY = 2.0


@pytest.fixture(scope="module")
def sf():
    with SiliconFlowFake(image=png_bytes(64, 36, (30, 140, 90))) as fake:
        yield fake


@pytest.fixture(scope="module")
def gateway(sf, tmp_path_factory):
    env = {
        "STREAM_HEARTBEAT_SECONDS": "0.25",
        "FLUX_GEN_API_BASE": sf.url + "/v1",
        "FLUX_GEN_MODEL": "flux-schnell",
        "FLUX_GEN_API_KEY": "sk-playground-sf-2222",
        "DJANGO_SUPERUSER_USERNAME": STAFF,
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    with GatewayProcess(tmp_path_factory.mktemp("gateway"), env) as process:
        assert process.manage("ensure_superuser").returncode == 0
        yield process


@pytest.fixture(scope="module")
def session_cookie(gateway) -> dict[str, str]:
    """Signed in through the admin's own login form, as a person would."""
    with httpx.Client(base_url=gateway.url) as http:
        form = http.get("/admin/login/", params={"next": "/playground/"}).text
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)[1]
        answer = http.post(
            "/admin/login/?next=/playground/",
            data={"username": STAFF, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/playground/"},
        )
        assert answer.status_code == 302 and answer.headers["Location"] == "/playground/"
        return {"sessionid": http.cookies["sessionid"]}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


EDIT_MODEL = """
from vendors.models import ImageModel
flux = ImageModel.objects.get(name="flux-schnell")
ImageModel.objects.create(
    vendor=flux.vendor, name="qwen-edit", upstream_name="Qwen/Qwen-Image-Edit-2509", size_format="none",
    input_images=3,
)
"""
CHOOSE_EDIT_MODEL = """(async () => {
    for (let tries = 0; tries < 100 && !document.querySelector('#model option[value="qwen-edit"]'); tries++) {
        await new Promise((done) => setTimeout(done, 50));
    }
    const model = document.querySelector("#model");
    model.value = "qwen-edit";
    model.dispatchEvent(new Event("change"));
})()"""

# Records what the page sends, and when a progress line first shows while the gallery is still empty.
WATCH = """(async () => {
  await window.playgroundReady;
  window.sent = [];
  const realFetch = window.fetch;
  window.fetch = (url, options = {}) => {
    if (options.body) window.sent.push(JSON.parse(options.body));
    return realFetch(url, options);
  };
  window.seenWhileWorking = [];
  new MutationObserver(() => {
    if (document.querySelector('#gallery .card')) return;
    window.seenWhileWorking = [...document.querySelectorAll('#progress li')].map(li => li.textContent);
  }).observe(document.getElementById('progress'), { childList: true, subtree: true, characterData: true });
  return [...document.querySelectorAll('#model option')].map(option => option.textContent);
})()"""

GALLERY = """(async () => {
  for (;;) {
    const image = document.querySelector('#gallery .card img');
    if (image && image.complete && image.naturalWidth) break;
    if (!document.getElementById('error').hidden) break;
    await new Promise(resolve => setTimeout(resolve, 50));
  }
  const image = document.querySelector('#gallery .card img');
  return {card: document.querySelector('#gallery .card')?.innerText || '', width: image ? image.naturalWidth : 0,
          error: document.getElementById('error').textContent, seen: window.seenWhileWorking, sent: window.sent,
          progress: [...document.querySelectorAll('#progress li')].map(li => li.textContent)};
})()"""

WORKING = """(async () => {
  const settled = () => document.querySelector('#gallery .card') || !document.getElementById('error').hidden;
  while (!document.querySelector('#progress .heartbeat') && !settled()) await new Promise(ok => setTimeout(ok, 25));
  return document.querySelector('#gallery .card') === null;
})()"""


async def centre(page: Page, selector: str) -> tuple[float, float]:
    """Where the element is in the viewport, scrolled into it first (events outside the viewport hit nothing)."""
    # Newer Chromium's scrollIntoView answers a promise; awaiting it is harmless where it does not.
    box = await page.evaluate(
        f"(async (found) => {{ await found.scrollIntoView({{block: 'center'}}); "
        f"return found.getBoundingClientRect().toJSON(); }})(document.querySelector('{selector}'))"
    )
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


async def click(page: Page, selector: str) -> None:
    x, y = await centre(page, selector)
    for kind in ("mousePressed", "mouseReleased"):
        await page.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


async def type_into(page: Page, selector: str, text: str) -> None:
    await click(page, selector)
    await page.call("Input.insertText", text=text)


async def drag_mouse(page: Page, points: list[tuple[float, float]]) -> None:
    (x, y), rest = points[0], points[1:]
    await page.call("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left", clickCount=1)
    for x, y in rest:
        await page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left", buttons=1)
    await page.call("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left", clickCount=1)


async def drag_finger(page: Page, points: list[tuple[float, float]]) -> None:
    await page.call("Emulation.setTouchEmulationEnabled", enabled=True, maxTouchPoints=1)
    (x, y), rest = points[0], points[1:]
    await page.call("Input.dispatchTouchEvent", type="touchStart", touchPoints=[{"x": x, "y": y}])
    for x, y in rest:
        await page.call("Input.dispatchTouchEvent", type="touchMove", touchPoints=[{"x": x, "y": y}])
    await page.call("Input.dispatchTouchEvent", type="touchEnd", touchPoints=[])
    await page.call("Emulation.setTouchEmulationEnabled", enabled=False)


async def choose_file(page: Page, selector: str, path: Path) -> None:
    """As a person picking a file in the dialog: the input gets it and fires its change event."""
    root = (await page.call("DOM.getDocument"))["root"]["nodeId"]
    node = (await page.call("DOM.querySelector", nodeId=root, selector=selector))["nodeId"]
    await page.call("DOM.setFileInputFiles", files=[str(path)], nodeId=node)
    await page.evaluate(
        "(async () => { while (document.getElementById('upload-preview').hidden) "
        "await new Promise(ok => setTimeout(ok, 25)); })()"
    )


def not_a_missing_styles_list(error: str) -> bool:
    """Before style presets exist the gateway answers /v1/styles 404; the page shows "none" for it."""
    return "/v1/styles" not in error


def run(scenario) -> dict:
    return asyncio.run(asyncio.wait_for(scenario, 120))


def test_an_idea_streams_its_progress_and_lands_in_the_gallery(gateway, session_cookie, sf, shots, tmp_path):
    sf.latency = VENDOR_LATENCY

    async def scenario() -> dict:
        with Browser.start(tmp_path / "profile") as browser:
            async with browser.tab(gateway.url + "/playground/", cookies=session_cookie) as page:
                models = await page.evaluate(WATCH)
                await type_into(page, "#idea", "a lighthouse on a rocky coast in fog")
                await page.evaluate("document.getElementById('ratio').value = '16:9'")
                await click(page, "#generate")
                empty_gallery_while_working = await page.evaluate(WORKING)
                await page.screenshot(shots / "playground-progress.png")
                seen = await page.evaluate(GALLERY)
                await page.screenshot(shots / "playground.png")
                return {**seen, "models": models, "working": empty_gallery_while_working, "errors": page.errors}

    seen = run(scenario())

    assert seen["models"] == ["flux-schnell"]
    assert seen["error"] == "" and seen["width"] == 64  # the stored image, served by the gateway, is in the gallery
    assert seen["working"] is True
    assert any(line.startswith("Generating with flux-schnell, 16:9") for line in seen["seen"])
    assert any("keep-alive" in line for line in seen["seen"])  # heartbeats shown before the answer came
    assert "Prompt: a lighthouse on a rocky coast in fog" in seen["card"]
    assert "Model: flux-schnell · Size: 64x36" in seen["card"]
    assert seen["sent"][0]["stream"] is True and seen["sent"][0]["messages"][0]["content"].endswith(" 16:9")
    assert list(filter(not_a_missing_styles_list, seen["errors"])) == []
    assert [request.json["image_size"] for request in sf.requests if request.json] == ["1024x576"]
    ledger = gateway.python("from imagegen.models import Generation; print(Generation.objects.get().client_label)")
    assert ledger.splitlines()[-1] == f"Playground: {STAFF}"  # the staff member's own key row, not a shared one


def test_an_upload_and_a_sketch_drawn_with_mouse_and_finger_go_out_as_image_parts(
    gateway, session_cookie, sf, shots, tmp_path
):
    sf.latency = 0.0
    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(40, 30, (250, 200, 0)))
    gateway.python(EDIT_MODEL)  # a model that takes the upload and the sketch

    async def scenario() -> dict:
        with Browser.start(tmp_path / "profile") as browser:
            async with browser.tab(gateway.url + "/playground/", cookies=session_cookie) as page:
                await page.evaluate(WATCH)
                await page.evaluate(CHOOSE_EDIT_MODEL)
                await choose_file(page, "#upload", photo)
                x, y = await centre(page, "#sketch")
                await drag_mouse(page, [(x - 120 + 10 * step, y - 100 + 2 * step) for step in range(25)])
                await drag_finger(page, [(x - 100 + 8 * step, y + 100 - 2 * step) for step in range(25)])
                await type_into(page, "#idea", "a castle from this sketch")
                await click(page, "#generate")
                seen = await page.evaluate(GALLERY)
                await page.screenshot(shots / "playground-sketch.png")
                return {**seen, "errors": page.errors}

    seen = run(scenario())

    parts = seen["sent"][0]["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "a castle from this sketch"}
    assert [part["type"] for part in parts] == ["text", "image_url", "image_url"]
    assert parts[1]["image_url"]["url"] == "data:image/png;base64," + base64.b64encode(photo.read_bytes()).decode()
    url = parts[2]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    sketch = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("L")
    assert sketch.size == (512, 512)
    upper, lower = sketch.crop((0, 0, 512, 256)), sketch.crop((0, 256, 512, 512))
    assert upper.getextrema()[0] < 100 and lower.getextrema()[0] < 100  # the mouse stroke above, the finger's below
    assert seen["width"] == 64 and list(filter(not_a_missing_styles_list, seen["errors"])) == []
    assert "Input image: upload and sketch" in seen["card"]
    assert sf.received_images[-1][0] == photo.read_bytes()  # the upload reached the vendor intact, the sketch beside it
    assert len(sf.received_images[-1]) == 2
