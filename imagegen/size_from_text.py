"""Reading the size a request asks for: an explicit size, else a ratio or WxH in the user's text, else
the model's default. (Fitting that size to what the model accepts is ``vendors.size_rules``.)

A ratio is taken from the text only where it stands as a ratio, so "meet at 10:30" keeps its time:
marked ratios (``--ar 16:9``, ``aspect ratio 16:9``, ``16:9 ratio``) are always read; a bare
``16:9`` token is read when it is a ratio people use for images and nothing around it says time.
Whatever was read is removed from the prompt. Any ratio works ("dynamic resolution"): the six
presets keep their sizes for their own ratios, and any other ratio gets a size of exactly that shape
with the long side 1024 and both sides multiples of 16 (21:9 -> 1024x432).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

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
_MARKED_BEFORE = re.compile(
    rf"(?:--ar|--aspect(?:-ratio)?|\baspect[\s_-]*ratio|\bratio)\s*(?:of|is|=|:)?\s*{_RATIO}(?![\d:])",
    re.IGNORECASE,
)
_MARKED_AFTER = re.compile(rf"(?<![\d:.]){_RATIO}\s*(?:aspect[\s_-]*ratio|aspect|ratio)\b", re.IGNORECASE)
_BARE = re.compile(rf"(?<![\w:.]){_RATIO}(?![\w:.]|\.\d)")
_TIME_BEFORE = re.compile(
    r"\b(?:at|by|until|till|from|to|around|before|after|since|about)\s*$|\b\d{1,2}\s*[-–]\s*$", re.IGNORECASE
)
_TIME_AFTER = re.compile(r"^\s*(?:a\.?m\.?|p\.?m\.?|o'?clock|h\b|hrs?\b|hours?\b|uhr\b)", re.IGNORECASE)
_EXPLICIT = re.compile(r"(?<![\w.])(\d{2,5})\s*[x×*]\s*(\d{2,5})(?![\w.])", re.IGNORECASE)


@dataclass(frozen=True)
class SizeChoice:
    width: int
    height: int
    source: str  # "request", "text-size", "text-ratio" or "default"
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


def choose_size(text: str, *, requested: str | None = None, model_default: str = "") -> SizeChoice:
    if requested:
        parsed = parse_size(requested)
        if parsed:
            return SizeChoice(*parsed, source="request", prompt=_tidy(text))
    explicit = _EXPLICIT.search(text)
    if explicit and parse_size(f"{explicit[1]}x{explicit[2]}"):
        return SizeChoice(int(explicit[1]), int(explicit[2]), "text-size", _tidy(_cut(text, explicit)))
    ratio = _find_ratio(text)
    if ratio is not None:
        match, width, height = ratio
        return SizeChoice(
            *ratio_size(width, height),
            source="text-ratio",
            prompt=_tidy(_cut(text, match)),
            ratio=ratio_label(width, height),
        )
    default = parse_size(model_default) or DEFAULT_SIZE
    return SizeChoice(*default, source="default", prompt=_tidy(text))


def _find_ratio(text: str) -> tuple[re.Match, float, float] | None:
    for pattern in (_MARKED_BEFORE, _MARKED_AFTER):
        match = pattern.search(text)
        if match and _valid(match):
            return match, float(match[1]), float(match[2])
    for match in _BARE.finditer(text):
        if not _valid(match):
            continue
        width, height = float(match[1]), float(match[2])
        if (width, height) not in {(float(a), float(b)) for a, b in COMMON_RATIOS}:
            continue
        if _TIME_BEFORE.search(text[: match.start()]) or _TIME_AFTER.match(text[match.end() :]):
            continue
        return match, width, height
    return None


def _valid(match: re.Match) -> bool:
    width, height = float(match[1]), float(match[2])
    return width > 0 and height > 0 and 1 / 8 <= width / height <= 8


def _cut(text: str, match: re.Match) -> str:
    return text[: match.start()] + " " + text[match.end() :]


def _tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.;!?])", r"\1", text)
    return text.strip(" ,;")
