import pytest

from imagegen.size_from_text import PRESETS, choose_size, ratio_size


@pytest.mark.parametrize(
    ("text", "size", "prompt"),
    [
        ("a cat 16:9", "1024x576", "a cat"),
        ("a cat 9:16", "576x1024", "a cat"),
        ("a cat 1:1", "1024x1024", "a cat"),
        ("a tall tower 1:2", "512x1024", "a tall tower"),
        ("a landscape 3:2, golden hour", "768x512", "a landscape, golden hour"),
        ("Modern office chair 3:4 natural lighting", "768x1024", "Modern office chair natural lighting"),
        ("a castle --ar 16:9", "1024x576", "a castle"),
        ("a castle --aspect 9:16 at dusk", "576x1024", "a castle at dusk"),
        ("aspect ratio 3:4 portrait of a fox", "768x1024", "portrait of a fox"),
        ("aspect ratio: 16:9 harbour", "1024x576", "harbour"),
        ("a banner, 16:9 ratio", "1024x576", "a banner"),
        ("a banner 16:9 aspect ratio", "1024x576", "a banner"),
        ("a full-width 16：9 scene", "1024x576", "a full-width scene"),
        # any other ratio gets its own shape: long side 1024, sides in steps of 16
        ("a panorama 21:9", "1024x432", "a panorama"),
        ("a poster 2:3", "688x1024", "a poster"),
        ("a print 4:3", "1024x768", "a print"),
        ("a wide print 2:1", "1024x512", "a wide print"),
        ("a screen 16:10", "1024x640", "a screen"),
        ("a very wide banner --ar 5:1", "1024x208", "a very wide banner"),
        ("a film still --ar 2.4:1", "1024x432", "a film still"),
        # an explicit WxH is honoured as it is
        ("a dog 1024x768", "1024x768", "a dog"),
        ("a dog, 640 x 480", "640x480", "a dog"),
        # times and other colon numbers are not ratios
        ("meet at 10:30 in the park", "1024x1024", "meet at 10:30 in the park"),
        ("a clock showing 9:16 pm", "1024x1024", "a clock showing 9:16 pm"),
        ("the 12:45 train", "1024x1024", "the 12:45 train"),
        ("John 3:16 on a banner", "1024x1024", "John 3:16 on a banner"),
        ("a cat", "1024x1024", "a cat"),
    ],
)
def test_size_and_prompt_from_the_users_text(text, size, prompt):
    choice = choose_size(text)
    assert (choice.size, choice.prompt) == (size, prompt)


def test_the_models_default_size_applies_when_the_text_names_none():
    assert choose_size("a cat", model_default="768x512").size == "768x512"


def test_a_ratio_in_the_text_beats_the_models_default():
    assert choose_size("a cat 9:16", model_default="768x512").size == "576x1024"


def test_a_requested_size_beats_the_text_and_leaves_the_text_alone():
    choice = choose_size("a cat 16:9", requested="512x512")
    assert (choice.size, choice.source, choice.prompt) == ("512x512", "request", "a cat 16:9")


def test_an_unreadable_requested_size_falls_back_to_the_text():
    assert choose_size("a cat 16:9", requested="huge").size == "1024x576"


def test_every_preset_keeps_its_size_for_its_own_ratio():
    for ratio, size in PRESETS.items():
        width, height = ratio.split(":")
        assert ratio_size(float(width), float(height)) == size
        assert choose_size(f"a cat --ar {ratio}").size == f"{size[0]}x{size[1]}"


def test_a_ratio_written_with_other_terms_reaches_the_same_preset():
    assert choose_size("a cat --ar 32:18").size == "1024x576"
    assert choose_size("a cat --ar 2:4").size == "512x1024"


@pytest.mark.parametrize(
    ("width", "height"),
    [(21, 9), (9, 21), (4, 3), (2, 3), (5, 4), (4, 5), (3, 1), (1, 3), (7, 1), (1, 8), (2.35, 1), (1.9, 1)],
)
def test_a_ratio_outside_the_presets_keeps_its_shape_with_the_long_side_1024_in_steps_of_16(width, height):
    size = ratio_size(float(width), float(height))
    assert max(size) == 1024
    assert size[0] % 16 == 0 and size[1] % 16 == 0
    assert (size[0] >= size[1]) == (width >= height)
    # within half a step of the exact shape
    short_exact = 1024 * min(width, height) / max(width, height)
    assert abs(min(size) - short_exact) <= 8


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("a cat 16:9", "16:9"),
        ("a panorama 21:9", "21:9"),
        ("a screen 16:10", "16:10"),
        ("a cat --ar 32:18", "16:9"),
        ("a cat --ar 1.5:1", "3:2"),
        ("a film still --ar 2.4:1", "12:5"),
        ("a cat aspect ratio 2:4", "1:2"),
        ("a cat 1024x768", ""),
        ("a cat", ""),
    ],
)
def test_the_ratio_read_from_the_text_is_reported_reduced(text, ratio):
    assert choose_size(text).ratio == ratio


def test_the_ratio_is_empty_for_a_requested_or_default_size():
    assert choose_size("a cat 16:9", requested="512x512").ratio == ""
    choice = choose_size("a cat", model_default="768x512")
    assert (choice.ratio, choice.source) == ("", "default")


def test_a_ratio_choice_says_where_it_came_from():
    choice = choose_size("a panorama 21:9 at dawn")
    assert (choice.width, choice.height, choice.source, choice.ratio) == (1024, 432, "text-ratio", "21:9")
