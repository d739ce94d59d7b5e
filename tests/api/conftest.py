"""Shared by API tests that count vendor calls: a SiliconFlow fake, and flux-schnell served by it; an OpenAI
Images fake (with its edits endpoint); a chat image model (OpenRouter's answer shape); an LLM fake for the
prompt optimizer (``tests.api.prompt_calls`` sets the optimizer up on it).

Modules that define their own ``sf`` or ``flux`` use theirs (pytest takes the nearest fixture).
"""

import pytest

from tests.api.prompt_calls import REWRITE
from tests.factories import make_key, make_model, make_vendor
from tests.fakes.chat_image import ChatImageFake
from tests.fakes.openai_chat import OpenAIChatFake
from tests.fakes.openai_images import OpenAIImagesFake
from tests.fakes.server import jpeg_bytes, png_bytes
from tests.fakes.siliconflow import SiliconFlowFake


@pytest.fixture
def sf():
    with SiliconFlowFake(image=png_bytes(40, 30)) as fake:
        yield fake


@pytest.fixture
def flux(sf):
    vendor = make_vendor(name="sf", kind="siliconflow", base_url=sf.url + "/v1", timeout=3.0)
    make_key(vendor, "sk-sf-key-aaaa1111", label="k1")
    return make_model(vendor, name="flux-schnell")


@pytest.fixture
def openai_fake():
    with OpenAIImagesFake() as fake:
        yield fake


@pytest.fixture
def relay():
    with ChatImageFake(mode="images_array") as fake:
        fake.image = jpeg_bytes(30, 40)
        yield fake


@pytest.fixture
def llm():
    with OpenAIChatFake() as fake:
        fake.reply = REWRITE
        yield fake
