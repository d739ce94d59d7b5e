"""Whether a ``W:H`` or ``WxH`` found in a prompt is the image's shape, judged by the words around it.

``size_from_text`` finds the candidates; this module says which ones mean the picture. The rules, in
the order they are asked (the first that answers decides):

0. A word naming a picture just before the number makes it the picture's ("photo 16:9", "poster 2:3",
   "winning team photo 16:9").
1. A ratio that is something else by what stands beside it is not the image's:
   - a time: "at", "by", "until" … just before, or "am", "pm", "o'clock", "sharp" … just after;
   - a scripture reference: a book of the Bible (or "verse", "chapter", "surah") just before,
     capitalised as written ("Matthew 5:4", "1 Kings 2:1");
   - a score or odds: a word of winning, losing or scoring among the four words before in the same
     clause ("won 3:1", "beat Arsenal 2:1", "the score was 2:1"), or "lead", "win", "odds" … just
     after ("a 2:1 lead", "3:2 odds");
   - a proportion: a word of mixing among the four words before, or "mix", "blend" … just after, or
     "(of) <thing> to <thing>" just after ("a 1:1 ratio of vinegar to water").
2. A size followed by a physical unit ("100x200 cm", "24x36\"") measures an object.
3. A number followed by a noun describes that noun (the words up to the next preposition, article or
   punctuation, skipping "pixel", "px"). It is the image's when one of those words names a picture
   ("a 1920x1080 image", "a 9:16 phone wallpaper", "a 3:1 header image"); it is an object's when one
   names a thing with its own shape ("1920x1080 monitor", "a 16:9 television", "a 100x100 pixel
   grid"), or when an article stands just before the number ("a 2:1 lead", "the 9:16 train").
4. Anything else is the image's ("a cat 16:9", "16:9 desert at dawn", "in 3:2").

Rule 1 applies to ratios only (a "1024x768" is never a time or a score); rule 2 to ``WxH`` only.
A clause ends at punctuation, so "a team that won the cup, 16:9" keeps its ratio.
"""

from __future__ import annotations

import re


def _word_set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_CLAUSE_BREAK = re.compile(r"[,.;!?()\[\]{}\n，。；！？、]")
_WORD = re.compile(r"[\w'’-]+")
_WINDOW = 4  # words before a number that can say it is a score or a proportion

_TIME_BEFORE = re.compile(
    r"\b(?:at|by|until|till|from|to|around|before|after|since|about)\s*$|\b\d{1,2}\s*[-–]\s*$", re.IGNORECASE
)
_TIME_AFTER = re.compile(
    r"^\s*(?:a\.?m\.?|p\.?m\.?|o'?clock|h\b|hrs?\b|hours?\b|uhr\b|sharp\b|utc\b|gmt\b)", re.IGNORECASE
)
_SCRIPTURE = _word_set(
    """Genesis Gen Exodus Exod Leviticus Lev Numbers Deuteronomy Deut Joshua Josh Judges Judg Ruth Samuel
    Sam Kings Kgs Chronicles Chron Ezra Nehemiah Neh Esther Esth Job Psalm Psalms Ps Psa Proverbs Prov
    Ecclesiastes Eccl Eccles Song Songs Isaiah Isa Jeremiah Jer Lamentations Lam Ezekiel Ezek Daniel Dan
    Hosea Hos Joel Amos Obadiah Obad Jonah Micah Mic Nahum Nah Habakkuk Hab Zephaniah Zeph Haggai Hag
    Zechariah Zech Malachi Mal Matthew Matt Mt Mark Mk Luke Lk John Jn Acts Romans Rom Corinthians Cor
    Galatians Gal Ephesians Eph Philippians Phil Colossians Col Thessalonians Thess Timothy Tim Titus
    Philemon Phlm Hebrews Heb James Jas Peter Pet Jude Revelation Rev Verse verse Verses verses Chapter
    chapter Surah surah Sura sura Ayah ayah"""
)
_SCORE_BEFORE = _word_set(
    """won win wins winning beat beats beating lost lose loses losing defeated defeating drew tied
    score scored scores scoreboard scoreline odds leading trailing ended finished halftime half-time
    full-time"""
)
_SCORE_AFTER = _word_set(
    """lead leads win wins victory defeat loss odds favourite favourites favorite favorites scoreline
    draw thriller comeback"""
)
_MIXING_BEFORE = _word_set("mix mixed mixing blend blended dilute diluted combine combined")
_MIXING_AFTER = _word_set("mix mixture blend dilution solution parts")
_PROPORTION_AFTER = re.compile(r"^\s*(?:ratio\s+)?(?:of\s+)?(?!(?:the|a|an)\b)[a-z]+\s+to\s+[a-z]+\b", re.IGNORECASE)

_UNITS_AFTER = re.compile(
    r"""^\s*(?:["″'′]|(?:cm|mm|m|km|inch|inches|ft|feet|foot|meters?|metres?|yards?)\b)""", re.IGNORECASE
)
_PIXEL_WORDS = _word_set("pixel pixels px")
_IMAGE_WORDS = _word_set(
    """image images picture pictures pic photo photos photograph photography shot still render rendering
    illustration artwork art painting drawing sketch poster wallpaper background banner cover header
    thumbnail icon avatar logo sticker sprite texture portrait landscape panorama panoramic scene view
    vista composition frame format layout canvas print crop orientation aspect ratio resolution size
    screenshot snapshot selfie cinematic widescreen vertical horizontal square"""
)
_OBJECT_WORDS = _word_set(
    """monitor monitors screen screens display displays tv tvs television televisions laptop laptops
    tablet tablets ipad phone phones smartphone smartphones projector projectors grid grids board
    boards chessboard matrix tile tiles cube lumber"""
)
_DETERMINERS = _word_set("a an the this that these those my your his her its our their one each every another")
_PHRASE_ENDS = _word_set(
    """of on in at with for from to by under over near behind above below beside against into onto
    and or but that which who while where when is are was were a an the"""
)
_PHRASE_LENGTH = 3


def names_the_image(text: str, start: int, end: int, *, ratio: bool) -> bool:
    """Whether ``text[start:end]`` (a ratio, or a ``WxH`` when ``ratio`` is false) is the image's shape."""
    before, after = text[:start], text[end:]
    if _IMAGE_WORDS.intersection(_words_before(before)[-1:]):
        return True
    if ratio and _is_something_else(before, after):
        return False
    if not ratio and _UNITS_AFTER.match(after):
        return False
    return _described_noun(before, after) != "object"


def _is_something_else(before: str, after: str) -> bool:
    """Rule 1: a time, a scripture reference, a score or odds, a proportion."""
    window = _words_before(before, keep_case=True)[-_WINDOW:]
    lowered = [word.lower() for word in window]
    following = _words_after(after)[:1]
    return bool(
        _TIME_BEFORE.search(before)
        or _TIME_AFTER.match(after)
        or (window and window[-1] in _SCRIPTURE)  # book names are matched as capitalised
        or _SCORE_BEFORE.intersection(lowered)
        or _SCORE_AFTER.intersection(following)
        or _MIXING_BEFORE.intersection(lowered)
        or _MIXING_AFTER.intersection(following)
        or _PROPORTION_AFTER.match(after)
    )


def _described_noun(before: str, after: str) -> str:
    """Rule 3: "image", "object", or "" when no noun follows (or one that says neither)."""
    phrase = _noun_phrase(after)
    if _IMAGE_WORDS.intersection(phrase):
        return "image"
    if _OBJECT_WORDS.intersection(phrase):
        return "object"
    if phrase and _DETERMINERS.intersection(_words_before(before)[-1:]):
        return "object"
    return ""


def _noun_phrase(after: str) -> list[str]:
    """The words right after the number, up to a preposition, article or punctuation; "pixel" skipped."""
    words = _words_after(after)
    while words and words[0] in _PIXEL_WORDS:
        words = words[1:]
    phrase = []
    for word in words[:_PHRASE_LENGTH]:
        if word in _PHRASE_ENDS:
            break
        phrase.append(word)
    return phrase


def _words_before(before: str, *, keep_case: bool = False) -> list[str]:
    """The words of the clause that ends where the number starts."""
    clause = _CLAUSE_BREAK.split(before)[-1]
    return _WORD.findall(clause if keep_case else clause.lower())


def _words_after(after: str) -> list[str]:
    """The words of the clause that starts where the number ends, lowercased."""
    return _WORD.findall(_CLAUSE_BREAK.split(after)[0].lower())
