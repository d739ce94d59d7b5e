"""Fitting the size a request wants to the sizes an image model accepts. Pure: no ORM, no HTTP.
(Reading the size from the request's text is ``imagegen.size_from_text``.)

A model's :class:`SizeCapability` comes from its ImageModel row. :func:`negotiate` maps a wanted
width and height onto it:

* a list of allowed sizes wins over everything: the one closest in shape, then in area;
* else a list of allowed aspect ratios: the closest ratio, at about the wanted area;
* else limits: keep the shape, scale down to the megapixel cap, keep the sides within the minimum
  and maximum, round them to the required multiple;
* no limits at all: the wanted size as it is.

The result is what we expect to get; the pixels of the images are measured after download anyway.
A megapixel here is 1024 x 1024 pixels, as image models count it (1.0 megapixels is 1024x1024).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MEGAPIXEL = 1024 * 1024
RATIO_MULTIPLE = 64  # sides of a size made for an allowed ratio when the model names no multiple

# The shapes people ask images in, by name. A shape within 2% of one is called by it ("21:9", not
# "64:27"), and a bare "16:9" in a prompt is read as a ratio when it is one of these.
COMMON_RATIOS: tuple[tuple[int, int], ...] = (
    (1, 1), (2, 1), (1, 2), (3, 2), (2, 3), (4, 3), (3, 4), (5, 4), (4, 5), (16, 9), (9, 16),
    (21, 9), (9, 21), (16, 10), (10, 16), (3, 1), (1, 3),
)  # fmt: skip
_NAMED_SHAPE_TOLERANCE = 0.02  # in log(width / height), about 2%
_SMALL_TERMS = 32  # an exact ratio with terms up to this is already readable (1792x1024 is 7:4)

_SIZE_ITEM = re.compile(r"(\d+)[x×](\d+)", re.IGNORECASE)
_RATIO_ITEM = re.compile(r"(\d+):(\d+)")


@dataclass(frozen=True)
class SizeCapability:
    """What sizes a model accepts. Empty means anything goes."""

    sizes: tuple[tuple[int, int], ...] = ()  # allowed WxH list; wins over everything else when set
    ratios: tuple[tuple[int, int], ...] = ()  # allowed aspect ratios (e.g. Stability's enum)
    multiple_of: int | None = None
    min_side: int | None = None
    max_side: int | None = None
    max_megapixels: float | None = None

    @classmethod
    def parse(
        cls,
        sizes: str = "",
        ratios: str = "",
        multiple_of: int | None = None,
        min_side: int | None = None,
        max_side: int | None = None,
        max_megapixels: float | None = None,
    ) -> SizeCapability:
        """From the text an operator types: sizes "1024x1024, 1792x1024", ratios "16:9 1:1"
        (separated by commas, semicolons or spaces). Raises ValueError naming the bad item."""
        for name, value in (("multiple", multiple_of), ("smallest side", min_side), ("largest side", max_side)):
            if value is not None and value < 1:
                raise ValueError(f"The {name} must be at least 1, not {value}.")
        if max_megapixels is not None and max_megapixels <= 0:
            raise ValueError(f"The megapixel limit must be more than 0, not {max_megapixels:g}.")
        if min_side is not None and max_side is not None and min_side > max_side:
            raise ValueError(f"The smallest side ({min_side}) is larger than the largest side ({max_side}).")
        if multiple_of and _multiples_between(multiple_of, min_side, max_side) is None:
            raise ValueError(f"No multiple of {multiple_of} lies between {min_side} and {max_side}.")
        if min_side and max_megapixels and min_side * min_side > max_megapixels * MEGAPIXEL:
            raise ValueError(
                f"The smallest image ({min_side}x{min_side}) is over the limit of {_megapixels(max_megapixels)} "
                "megapixels."
            )
        return cls(
            sizes=_parse_items(sizes, _SIZE_ITEM, "a size like 1024x768"),
            ratios=_parse_items(ratios, _RATIO_ITEM, "an aspect ratio like 16:9"),
            multiple_of=multiple_of,
            min_side=min_side,
            max_side=max_side,
            max_megapixels=max_megapixels,
        )

    @property
    def unconstrained(self) -> bool:
        return not self.sizes and not self.ratios and self.limits == (None, None, None, None)

    @property
    def limits(self) -> tuple[int | None, int | None, int | None, float | None]:
        return self.multiple_of, self.min_side, self.max_side, self.max_megapixels


@dataclass(frozen=True)
class NegotiatedSize:
    width: int
    height: int
    ratio: str  # "W:H" to send when the model takes a ratio: the allowed ratio chosen, else the shape asked for
    adjusted: bool  # True when (width, height) differs from what was asked
    reason: str  # why, in a few words, when adjusted ("sides rounded to multiples of 32"); "" otherwise

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def negotiate(width: int, height: int, capability: SizeCapability) -> NegotiatedSize:
    """The size to ask ``capability``'s model for when ``width`` x ``height`` is wanted."""
    if width <= 0 or height <= 0:
        raise ValueError(f"A size needs positive sides, not {width}x{height}.")
    if capability.sizes:
        chosen = min(capability.sizes, key=lambda size: _size_distance(size, width, height))
        return _result(width, height, *chosen, ratio_name(*chosen), ["the closest size the model supports"])
    if capability.ratios:
        chosen = min(capability.ratios, key=lambda ratio: _rounded(_shape_distance(ratio, width, height)))
        area = width * height
        fitted_w, fitted_h, reasons = _fit(
            math.sqrt(area * chosen[0] / chosen[1]),
            math.sqrt(area * chosen[1] / chosen[0]),
            capability,
            capability.multiple_of or RATIO_MULTIPLE,
        )
        if _shape_distance(chosen, width, height) > _NAMED_SHAPE_TOLERANCE:
            reasons.insert(0, f"the closest aspect ratio the model supports ({chosen[0]}:{chosen[1]})")
        return _result(width, height, fitted_w, fitted_h, f"{chosen[0]}:{chosen[1]}", reasons)
    fitted_w, fitted_h, reasons = _fit(width, height, capability, capability.multiple_of)
    return _result(width, height, fitted_w, fitted_h, ratio_name(width, height), reasons)


def ratio_name(width: int, height: int) -> str:
    """The shape as a ratio people read: exact when its terms are small (7:4), else the common ratio
    within 2% (1024x432 is "21:9"), else exact (1000:563)."""
    divisor = math.gcd(width, height)
    terms = width // divisor, height // divisor
    if max(terms) <= _SMALL_TERMS:
        return f"{terms[0]}:{terms[1]}"
    nearest = min(COMMON_RATIOS, key=lambda ratio: _shape_distance(ratio, width, height))
    if _shape_distance(nearest, width, height) <= _NAMED_SHAPE_TOLERANCE:
        return f"{nearest[0]}:{nearest[1]}"
    return f"{terms[0]}:{terms[1]}"


def _parse_items(text: str, pattern: re.Pattern, what: str) -> tuple[tuple[int, int], ...]:
    # "1024 x 768" and "16 : 9" are one item each: close up the spaces around the separator first.
    text = re.sub(r"\s*([x×:])\s*", r"\1", text or "", flags=re.IGNORECASE)
    items: list[tuple[int, int]] = []
    for item in re.split(r"[\s,;]+", text.strip()):
        if not item:
            continue
        match = pattern.fullmatch(item)
        if not match:
            raise ValueError(f"{item!r} is not {what}.")
        pair = int(match[1]), int(match[2])
        if min(pair) < 1:
            raise ValueError(f"{item!r} has a zero side; both numbers must be at least 1.")
        if pair not in items:
            items.append(pair)
    return tuple(items)


def _shape_distance(size: tuple[int, int], width: float, height: float) -> float:
    return abs(math.log(size[0] / size[1]) - math.log(width / height))


def _rounded(distance: float) -> float:
    # Mirror shapes (1792x1024 and 1024x1792 for a square ask) must tie despite float noise.
    return round(distance, 9)


def _size_distance(size: tuple[int, int], width: int, height: int) -> tuple[float, int]:
    return _rounded(_shape_distance(size, width, height)), abs(size[0] * size[1] - width * height)


def _multiples_between(multiple: int, low: int | None, high: int | None) -> tuple[int, int | None] | None:
    """The smallest and largest multiple allowed as a side (None: no upper bound); None when there is none."""
    smallest = max(multiple, math.ceil((low or 1) / multiple) * multiple)
    largest = None if high is None else (high // multiple) * multiple
    if largest is not None and largest < smallest:
        return None
    return smallest, largest


def _fit(width: float, height: float, capability: SizeCapability, multiple: int | None) -> tuple[int, int, list[str]]:
    """Keep the shape, scale down to the megapixel cap, clamp into [min, max], round to the multiple."""
    reasons: list[str] = []
    low, high, cap = capability.min_side, capability.max_side, capability.max_megapixels
    cap_area = cap * MEGAPIXEL if cap else None
    w, h = float(width), float(height)
    if cap_area and w * h > cap_area:
        w, h = _scaled(w, h, math.sqrt(cap_area / (w * h)))
        reasons.append(f"scaled down to {_megapixels(cap)} megapixels")
    w, h, clamped = _clamp_sides(w, h, low, high, cap_area)
    if clamped:
        reasons.append(_limits_phrase(low, high))
    step, smallest, largest = _side_grid(multiple, low, high)
    rounded_w, rounded_h = (_round_to(side, step, smallest, largest) for side in (w, h))
    if cap_area:
        rounded_w, rounded_h = _step_down_into_area(rounded_w, rounded_h, cap_area, step, smallest)
    if step > 1 and (abs(rounded_w - w) > 1e-6 or abs(rounded_h - h) > 1e-6):
        if clamped:
            reasons[-1] += f" and rounded to multiples of {step}"
        else:
            reasons.append(f"sides rounded to multiples of {step}")
    return rounded_w, rounded_h, reasons


def _scaled(w: float, h: float, scale: float) -> tuple[float, float]:
    return w * scale, h * scale


def _clamp_sides(
    w: float, h: float, low: int | None, high: int | None, cap_area: float | None
) -> tuple[float, float, bool]:
    """The sides scaled (shape kept) into [low, high]; True when that changed them."""
    clamped = False
    if high and max(w, h) > high:
        w, h = _scaled(w, h, high / max(w, h))
        clamped = True
    if low and min(w, h) < low:
        w, h = _scaled(w, h, low / min(w, h))
        clamped = True
        w, h = _shorten_long_side(w, h, high, cap_area)
    return w, h, clamped


def _shorten_long_side(w: float, h: float, high: int | None, cap_area: float | None) -> tuple[float, float]:
    # Too thin a shape for both limits: the long side gives way.
    if high:
        w, h = min(w, high), min(h, high)
    if cap_area and w * h > cap_area:
        if w >= h:
            w = max(h, cap_area / h)
        else:
            h = max(w, cap_area / w)
    return w, h


def _side_grid(multiple: int | None, low: int | None, high: int | None) -> tuple[int, int, int | None]:
    """The step sides are rounded to, and the smallest and largest side allowed (None: no largest)."""
    if multiple:
        smallest, largest = _multiples_between(multiple, low, high) or (multiple, None)
        return multiple, smallest, largest
    return 1, max(1, low or 1), high


def _step_down_into_area(w: int, h: int, cap_area: float, step: int, smallest: int) -> tuple[int, int]:
    # Rounding up may have crossed the cap: take the longer side down a step until it fits.
    while w * h > cap_area:
        if w >= h and w - step >= smallest:
            w -= step
        elif h - step >= smallest:
            h -= step
        elif w - step >= smallest:
            w -= step
        else:
            break
    return w, h


def _round_to(side: float, multiple: int, smallest: int, largest: int | None) -> int:
    value = math.floor(side / multiple + 0.5) * multiple
    value = max(value, smallest)
    if largest is not None:
        value = min(value, largest)
    return int(value)


def _limits_phrase(low: int | None, high: int | None) -> str:
    if low and high:
        return f"sides kept between {low} and {high} pixels"
    if low:
        return f"sides kept to at least {low} pixels"
    return f"sides kept to at most {high} pixels"


def _megapixels(value: float) -> str:
    text = f"{value:g}"
    return text if "." in text or "e" in text else f"{text}.0"


def _result(width: int, height: int, fitted_w: int, fitted_h: int, ratio: str, reasons: list[str]) -> NegotiatedSize:
    adjusted = (fitted_w, fitted_h) != (width, height)
    reason = ", ".join(reasons) if adjusted else ""
    if adjusted and not reason:
        reason = "the closest size the model supports"
    return NegotiatedSize(width=fitted_w, height=fitted_h, ratio=ratio, adjusted=adjusted, reason=reason)
