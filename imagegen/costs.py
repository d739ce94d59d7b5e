"""What a generation cost: the images delivered, by the price table, and the optimizer's tokens, by its prices.

Money is ``Decimal`` throughout, in ``PRICE_CURRENCY``. A cost nobody priced is unknown (None), never 0:
a model without a row of the price table that holds for the image, an optimizer without token prices,
or an optimizer answer that did not say how many tokens it used. Only delivered images are costed: a
failed vendor call costs nothing here, even one the vendor may bill (a timeout after sending); the
ledger's attempts show those.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

from imagegen.size_from_text import parse_size
from vendors.pricing import price_per_image
from vendors.selectors import ModelRoute

ZERO = Decimal(0)
MILLION = Decimal(1_000_000)
PLACES = Decimal("0.000001")  # how costs are shown: 6 decimal places, halves rounded up


def shown(amount: Decimal) -> Decimal:
    """An amount as answers show it (the ledger keeps 8 decimal places)."""
    return amount.quantize(PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class OptimizerUsage:
    """The optimizer LLM's tokens for one request, as it reported them, and what they cost."""

    prompt_tokens: int | None = 0  # None: the LLM was asked and did not say (or did not answer in time)
    completion_tokens: int | None = 0
    cost: Decimal | None = ZERO  # None: unknown (no token prices, or unknown tokens)

    @property
    def known(self) -> bool:
        return self.prompt_tokens is not None and self.completion_tokens is not None


NOT_ASKED = OptimizerUsage()  # the optimizer is off, or was not called: nothing spent
UNKNOWN = OptimizerUsage(None, None, None)  # asked, and no figure came back


def optimizer_usage(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    input_price: Decimal | None,
    output_price: Decimal | None,
) -> OptimizerUsage:
    """The tokens of one optimizer answer and their cost at the prices per million tokens (None: not set)."""
    if prompt_tokens is None or completion_tokens is None:
        return UNKNOWN
    if input_price is None or output_price is None:
        cost = ZERO if prompt_tokens == completion_tokens == 0 else None
    else:
        cost = (prompt_tokens * input_price + completion_tokens * output_price) / MILLION
    return OptimizerUsage(prompt_tokens, completion_tokens, cost)


@dataclass(frozen=True)
class Cost:
    vendor: Decimal | None
    optimizer: Decimal | None
    currency: str

    @property
    def total(self) -> Decimal | None:
        if self.vendor is None or self.optimizer is None:
            return None
        return self.vendor + self.optimizer

    def text(self) -> str:
        """``0.040000 USD``, or ``unknown`` when some part of it has no price."""
        total = self.total
        return "unknown" if total is None else f"{shown(total)} {self.currency}"


def vendor_cost(route: ModelRoute | None, size: str, quality: str | None, images: int) -> Decimal | None:
    """What ``images`` delivered images of ``route`` at the ``size`` sent cost; None when unpriced."""
    if images == 0:
        return ZERO
    dimensions = parse_size(size) if route is not None and size else None
    if dimensions is None:
        return None
    price = price_per_image(route.prices, *dimensions, quality)
    return None if price is None else price * images


def cost_of(route: ModelRoute | None, size: str, quality: str | None, images: int, usage: OptimizerUsage) -> Cost:
    return Cost(
        vendor=vendor_cost(route, size, quality, images), optimizer=usage.cost, currency=settings.PRICE_CURRENCY
    )
