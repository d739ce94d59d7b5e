"""Reading the size a request asks for: an explicit size, else a ratio or WxH in the user's text, else
the model's default. (Fitting that size to what the model accepts is ``vendors.size_rules``.)

What is read from the text, in this order (the first that is read wins):

1. ``WxH`` with sides 64-4096 ("1024x768", "1920 × 1080", "1024x1024 px"), when it is the image's
   size and not an object's ("1920x1080 monitor", "a 100x100 pixel grid", "a 100x200 cm rug": the
   rules are in ``size_context``).
2. A ratio after a strong marker, always: ``--ar 16:9``, ``--aspect 2:3``, ``aspect ratio 4:3``,
   ``16:9 aspect (ratio)``, ``比例 3:4``, ``宽高比 16:9``.
3. A ratio after the plain word "ratio" ("ratio 5:4", "5:4 ratio"), and then a bare ratio people use
   for images (``vendors.size_rules.COMMON_RATIOS``: "16:9", "9:16", "3:2" …) — either only when the
   words around it do not make it something else: a time ("at 10:30", "9:16 pm"), a scripture
   reference ("Matthew 5:4"), a score or odds ("won 3:1", "a 2:1 lead"), a proportion ("mix 1:1
   flour and water"), or the shape of an object ("a 16:9 television"). ``size_context`` has the rules.

A colon may be full-width ("16：9"). Whatever was read is removed from the prompt; what was not read
stays as written. Any ratio works ("dynamic resolution"): the six presets keep their sizes for their
own ratios, and any other ratio gets a size of exactly that shape with the long side 1024 and both
sides multiples of 16 (21:9 -> 1024x432).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from imagegen.size_context import names_the_image
from vendors.size_rules import COMMON_RATIOS

PRESETS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "1:2": (512, 1024),
    "3:2": (768, 512),
    "3:4": (768, 1024),
    "16:9": (1024, 576),
    "9:16": (576, 1024),
}
DEFAULT_SIZE = (1024, 1024)
RATIO_LONG_SIDE, RATIO_STEP = 1024, 16  # the size of a ratio outside the presets
MIN_SIDE, MAX_SIDE = 64, 4096

# Bare W:H tokens that are read as ratios without a marker are the shapes people ask images in:
# vendors.size_rules.COMMON_RATIOS, the one table of them.

_NUMBER = r"(\d{1,2}(?:\.\d)?)"
_RATIO = rf"{_NUMBER}\s*[:：]\s*{_NUMBER}"
# Latin letters and digits glued to a number make it something else ("v2:1", "x16:9"); CJK text does not.
_NOT_AFTER_WORD = r"(?<![A-Za-z\d_:.])"
_NOT_BEFORE_WORD = r"(?![A-Za-z\d_:.]|\.\d)"
_STRONG_BEFORE = re.compile(
    rf"(?:--ar|--aspect(?:-ratio)?|\baspect[\s_-]*ratio|比例|宽高比|长宽比|画幅)\s*(?:of|is|=|:|：)?\s*{_RATIO}(?![\d:])",
    re.IGNORECASE,
)
_STRONG_AFTER = re.compile(rf"{_NOT_AFTER_WORD}{_RATIO}\s*(?:aspect[\s_-]*ratio|aspect)\b", re.IGNORECASE)
_WEAK_BEFORE = re.compile(rf"\bratio\s*(?:is|=|:)?\s*{_RATIO}(?![\d:])", re.IGNORECASE)
_WEAK_AFTER = re.compile(rf"{_NOT_AFTER_WORD}{_RATIO}\s*ratio\b", re.IGNORECASE)
_BARE = re.compile(rf"{_NOT_AFTER_WORD}{_RATIO}{_NOT_BEFORE_WORD}")
_EXPLICIT = re.compile(r"(?<![\w.])(\d{2,5})\s*[x×*]\s*(\d{2,5})(?:\s*(?:px|pixels?)\b)?(?![\w.])", re.IGNORECASE)
_COMMON = {(float(width), float(height)) for width, height in COMMON_RATIOS}


@dataclass(frozen=True)
class SizeChoice:
    width: int
    height: int
    source: str  # "request", "text-size", "text-ratio", "style" (a preset's ratio) or "default"
    prompt: str  # the user's text with what was read removed
    ratio: str = ""  # the ratio read from the text, reduced ("21:9", "16:9"); "" when the size came from elsewhere

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}"


def parse_size(value: str) -> tuple[int, int] | None:
    match = re.fullmatch(r"\s*(\d{2,5})\s*[x×*]\s*(\d{2,5})\s*", value or "", re.IGNORECASE)
    if not match:
        return None
    width, height = int(match[1]), int(match[2])
    if not (MIN_SIDE <= width <= MAX_SIDE and MIN_SIDE <= height <= MAX_SIDE):
        return None
    return width, height


def reduce_ratio(width: float, height: float) -> tuple[int, int]:
    """Whole-number terms with no common divisor: 32:18 -> 16:9, 21:9 -> 7:3, 2.4:1 -> 12:5."""
    exact = Fraction(str(width)) / Fraction(str(height))
    return exact.numerator, exact.denominator


def ratio_label(width: float, height: float) -> str:
    """The ratio as the user wrote it, reduced: a common ratio keeps its terms (21:9, 16:10), others are
    reduced to whole numbers (32:18 -> 16:9, 1.5:1 -> 3:2)."""
    if width.is_integer() and height.is_integer() and (int(width), int(height)) in COMMON_RATIOS:
        return f"{int(width)}:{int(height)}"
    terms = reduce_ratio(width, height)
    return f"{terms[0]}:{terms[1]}"


def ratio_size(width: float, height: float) -> tuple[int, int]:
    """The size generated for a ratio: its preset, else that shape with the long side 1024 in steps of 16."""
    terms = reduce_ratio(width, height)
    preset = PRESETS.get(f"{terms[0]}:{terms[1]}")
    if preset is not None:
        return preset
    long_side, short_side = max(terms), min(terms)
    short = max(RATIO_STEP, round(RATIO_LONG_SIDE * short_side / long_side / RATIO_STEP) * RATIO_STEP)
    return (RATIO_LONG_SIDE, short) if terms[0] >= terms[1] else (short, RATIO_LONG_SIDE)


def choose_size(
    text: str, *, requested: str | None = None, model_default: str = "", style_ratio: str = ""
) -> SizeChoice:
    """The size: the request's, else the text's, else ``style_ratio`` (a style preset's W:H), else the model's."""
    if requested:
        parsed = parse_size(requested)
        if parsed:
            return SizeChoice(*parsed, source="request", prompt=_tidy(text))
    explicit = _find_explicit(text)
    if explicit is not None:
        match, (width, height) = explicit
        return SizeChoice(width, height, "text-size", _tidy(_cut(text, match)))
    ratio = _find_ratio(text)
    if ratio is not None:
        match, width, height = ratio
        return SizeChoice(
            *ratio_size(width, height),
            source="text-ratio",
            prompt=_tidy(_cut(text, match)),
            ratio=ratio_label(width, height),
        )
    if style_ratio and (terms := _ratio_terms(style_ratio)) is not None:
        return SizeChoice(*ratio_size(*terms), source="style", prompt=_tidy(text), ratio=ratio_label(*terms))
    default = parse_size(model_default) or DEFAULT_SIZE
    return SizeChoice(*default, source="default", prompt=_tidy(text))


def _ratio_terms(ratio: str) -> tuple[float, float] | None:
    match = re.fullmatch(rf"\s*{_RATIO}\s*", ratio)
    if match is None or not _valid(match):
        return None
    return float(match[1]), float(match[2])


def _find_explicit(text: str) -> tuple[re.Match, tuple[int, int]] | None:
    for match in _EXPLICIT.finditer(text):
        size = parse_size(f"{match[1]}x{match[2]}")
        if size and names_the_image(text, match.start(), match.end(), ratio=False):
            return match, size
    return None


def _find_ratio(text: str) -> tuple[re.Match, float, float] | None:
    for pattern in (_STRONG_BEFORE, _STRONG_AFTER):
        match = pattern.search(text)
        if match and _valid(match):
            return match, float(match[1]), float(match[2])
    weak = [match for pattern in (_WEAK_BEFORE, _WEAK_AFTER) for match in pattern.finditer(text) if _valid(match)]
    bare = [match for match in _BARE.finditer(text) if (float(match[1]), float(match[2])) in _COMMON]
    for match in weak + bare:
        if names_the_image(text, match.start(), match.end(), ratio=True):
            return match, float(match[1]), float(match[2])
    return None


def _valid(match: re.Match) -> bool:
    width, height = float(match[1]), float(match[2])
    return width > 0 and height > 0 and 1 / 8 <= width / height <= 8


def _cut(text: str, match: re.Match) -> str:
    return text[: match.start()] + " " + text[match.end() :]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    text = re.sub(r"\(\s*\)|\[\s*\]", "", text)  # the brackets a cut ratio leaves: "a lion (16:9)"
    return re.sub(r"\s+", " ", text).strip(" ,;，；")
