"""The prompt optimizer: an LLM rewrites the user's idea into a prompt image models do well with.

Modes: off, fast (one direct rewrite) and reasoning (the model thinks first; its thinking arrives
inline in ``<think>`` tags or in a separate field and is dropped). The optimizer never stands in
the way of an image: any failure, an empty answer or an overrun of the time budget falls back to
the user's own words.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from core.db import Snapshot
from core.text import storable
from imagegen import prompt_cache
from imagegen.costs import NOT_ASKED, UNKNOWN, OptimizerUsage, optimizer_usage
from imagegen.models import OptimizerSettings
from imagegen.styles import Style, styled
from vendors import services
from vendors.adapters.base import ChatReply, ChatRequest

log = logging.getLogger(__name__)

FAST_INSTRUCTIONS = (
    "You write prompts for text-to-image models. Turn the user's idea into a single prompt and reply "
    "with that prompt alone: one line of English, comma-separated phrases, {max_words} words at most. "
    "Name the subject and what it is doing, a style or medium, the setting, and the lighting or mood. "
    "Keep every detail the user asked for and invent nothing that contradicts it; translate ideas "
    "written in other languages. No quotation marks, labels, lists or commentary."
)
REASONING_INSTRUCTIONS = (
    "You write prompts for text-to-image models. First work out what picture the user has in mind: "
    "the subject and its action, the composition, a fitting style or medium, the setting, and the "
    "lighting or mood. Then give your final answer: a single line of English, comma-separated "
    "phrases, {max_words} words at most, keeping every detail the user asked for. The final answer "
    "holds the prompt alone, with no quotation marks, labels or commentary."
)
# Added when the request brings input images: the prompt then says what to do with them, not a new scene.
WITH_IMAGES_NOTE = (
    " The user also sends {count} input image(s) that the image model will see: write the prompt as an "
    "instruction about those images (what to change, keep or restyle), and do not describe a new scene."
)

# Closing tags of inline thinking; the answer is what follows the last one.
_THINK_CLOSE = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)
_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.IGNORECASE | re.DOTALL)
_LABEL = re.compile(r"^\s*(?:final\s+)?(?:image\s+)?prompt\s*[:：]\s*", re.IGNORECASE)


@dataclass(frozen=True)
class OptimizerConfig:
    mode: str
    vendor_id: int | None
    model: str
    time_budget: float
    max_words: int
    input_price: Decimal | None = None  # per million tokens; None: not set
    output_price: Decimal | None = None
    client_modes: str = OptimizerSettings.ClientModes.OFF  # what a request's prompt_optimizer may choose


@dataclass(frozen=True)
class OptimizedPrompt:
    prompt: str
    optimized: bool  # False when the user's words were used as they are
    usage: OptimizerUsage = NOT_ASKED  # the LLM's tokens and their cost
    cached: bool = False  # the rewrite came from the optimizer cache: no LLM call, no tokens


def final_answer(reply: ChatReply) -> str:
    """The prompt in a reply, without any thinking, whichever way the model delivered it."""
    content = reply.content or ""
    closes = list(_THINK_CLOSE.finditer(content))
    if closes:
        content = content[closes[-1].end() :]
    content = _THINK_BLOCK.sub(" ", content)
    if re.match(r"\s*<(?:think|thinking|reasoning)>", content, re.IGNORECASE):
        return ""  # thinking that never closed: the budget ran out before any answer
    lines = [line.strip() for line in content.strip().splitlines() if line.strip()]
    answer = " ".join(lines)
    answer = _LABEL.sub("", answer).strip().strip("\"'“”‘’`").strip()
    # The answer goes to a vendor and into the ledger: nothing either would refuse.
    return storable(answer)


def limit_words(text: str, max_words: int) -> str:
    words = text.split()
    if len(words) <= max_words:
        return text
    return " ".join(words[:max_words]).rstrip(",;:")


def _load_config() -> OptimizerConfig:
    row = OptimizerSettings.load()
    return OptimizerConfig(
        mode=row.mode,
        vendor_id=row.vendor_id,
        model=row.model,
        time_budget=row.time_budget,
        max_words=row.max_words,
        input_price=row.input_price_per_million,
        output_price=row.output_price_per_million,
        client_modes=row.client_modes,
    )


_config = Snapshot(_load_config)
optimizer_config = _config.get
invalidate_optimizer_config = _config.invalidate


async def _nothing() -> None:
    pass


async def optimize(
    idea: str,
    progress: Callable[[str], None],
    before_call: Callable[[], Awaitable[None]] = _nothing,
    *,
    mode: str | None = None,
    style: Style | None = None,
    inputs: list[str] = (),
) -> OptimizedPrompt:
    """The idea rewritten by the configured LLM (or as rewritten before, from the optimizer cache), or as
    given when the optimizer is off or fails; with its tokens. ``mode`` is the client's choice (None: the
    operator's); a style preset guides the rewrite, or adds its suffix to the words as given. ``inputs``
    are the digests of the request's input images: the rewrite of one image's edit is not another's.
    ``before_call`` runs just before the LLM is asked."""
    config = await optimizer_config()
    mode = mode or config.mode
    as_given = OptimizedPrompt(prompt=styled(idea, style), optimized=False)
    if mode == OptimizerSettings.Mode.OFF:
        return as_given
    progress("Optimizing the prompt.")
    if config.vendor_id is None or not config.model:
        log.warning("prompt optimizer is on but its vendor is missing or disabled; using the user's words")
        return as_given
    request = _chat_request(config, mode, idea, style, images=len(inputs))
    key = prompt_cache.cache_key(idea, mode, config.vendor_id, request, style.cache_slot if style else "", inputs)
    if cached := await prompt_cache.cached_rewrite(key):
        progress("The optimized prompt was found in the cache.")
        return OptimizedPrompt(prompt=cached, optimized=True, cached=True)
    await before_call()
    optimized = await _ask(config, request, as_given)
    if optimized.optimized:
        await prompt_cache.keep_rewrite(key, optimized.prompt)
    return optimized


async def _ask(config: OptimizerConfig, request: ChatRequest, as_given: OptimizedPrompt) -> OptimizedPrompt:
    try:
        async with asyncio.timeout(config.time_budget):
            reply = await services.complete_chat(config.vendor_id, request)
    except TimeoutError:
        log.warning("prompt optimizer took longer than %.1f s; using the user's words", config.time_budget)
        return replace(as_given, usage=UNKNOWN)  # it may have answered, and billed, a moment later
    except Exception as exc:  # the optimizer must never cost the user their image
        log.warning("prompt optimizer failed (%s); using the user's words", getattr(exc, "code", type(exc).__name__))
        return as_given  # a refused or failed call gives no answer to bill
    usage = optimizer_usage(reply.prompt_tokens, reply.completion_tokens, config.input_price, config.output_price)
    answer = limit_words(final_answer(reply), config.max_words)
    if not answer:
        log.warning("prompt optimizer gave no prompt (finish_reason=%s); using the user's words", reply.finish_reason)
        return replace(as_given, usage=usage)
    return OptimizedPrompt(prompt=answer, optimized=True, usage=usage)


def _chat_request(config: OptimizerConfig, mode: str, idea: str, style: Style | None, images: int = 0) -> ChatRequest:
    reasoning = mode == OptimizerSettings.Mode.REASONING
    instructions = (REASONING_INSTRUCTIONS if reasoning else FAST_INSTRUCTIONS).format(max_words=config.max_words)
    if images:
        instructions += WITH_IMAGES_NOTE.format(count=images)
    if style is not None and style.optimizer_guidance:
        instructions += f" The user chose the style preset '{style.name}': {style.optimizer_guidance}"
    return ChatRequest(
        model=config.model,
        system=instructions,
        user=idea,
        # Reasoning models spend tokens thinking before they answer.
        max_tokens=4096 if reasoning else 300,
    )
