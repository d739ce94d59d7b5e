import pytest

from imagegen.sizes import PRESETS, choose_size, nearest_preset


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
        # ratios outside the presets go to the nearest shape
        ("a panorama 21:9", "1024x576", "a panorama"),
        ("a poster 2:3", "768x1024", "a poster"),
        ("a print 4:3", "768x512", "a print"),
        ("a very wide banner --ar 5:1", "1024x576", "a very wide banner"),
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


def test_every_preset_is_its_own_nearest_shape():
    for width, height in PRESETS.values():
        assert nearest_preset(width, height) == (width, height)
