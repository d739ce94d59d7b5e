"""A size or ratio in the text sets the image's size only when it means the image.

Two tables: phrases that ask for an image size or ratio (each with the size it must give), and
phrases whose numbers mean something else (a score, a verse, a time, a version, a recipe, odds, a
pixel grid, an object's dimensions), which must keep the model's default size and their words.
"""

import pytest

from imagegen.size_from_text import choose_size

MODEL_DEFAULT = "768x512"  # not a size any phrase below asks for, so a false alarm cannot hide

MEANS_A_SIZE = [
    # marked ratios
    ("a castle on a hill --ar 9:16", "576x1024"),
    ("--ar 21:9 a desert highway", "1024x432"),
    ("a stormy sea --ar 3:2 --v 6", "768x512"),
    ("a dragon --aspect 2:3", "688x1024"),
    ("a film still, --ar 2.4:1", "1024x432"),
    ("aspect ratio 4:3, a cozy kitchen", "1024x768"),
    ("a red fox in snow, aspect ratio: 3:2", "768x512"),
    ("aspect-ratio=16:9 a spaceship", "1024x576"),
    ("a beach at sunset, aspect ratio 16:10", "1024x640"),
    ("an owl with a 5:4 aspect ratio", "1024x816"),
    ("a fantasy map in 4:3 aspect", "1024x768"),
    ("an owl, 5:4 ratio", "1024x816"),
    ("the ratio is 3:4, a ballerina", "768x1024"),
    ("a city map, ratio 1:1", "1024x1024"),
    # bare common ratios
    ("a lighthouse in fog 16:9", "1024x576"),
    ("a forest path in 3:2", "768x512"),
    ("make it 16:9", "1024x576"),
    ("16:9 desert at dawn", "1024x576"),
    ("1:1 a logo for a coffee shop", "1024x1024"),
    ("a cat 16:9 on a beach", "1024x576"),
    ("a neon city street at night, 16:9", "1024x576"),
    ("a samurai under cherry blossoms, 2:3", "688x1024"),
    ("a frog on a leaf 4:5", "816x1024"),
    ("a vintage car photo 4:3", "1024x768"),
    ("draw a lion 3:2 please", "768x512"),
    ("a lion (16:9)", "1024x576"),
    ("a lion [3:4]", "768x1024"),
    ("a robot; 2:1", "1024x512"),
    ("a cat sitting on a sofa, 1:1, soft light", "1024x1024"),
    ("a mountain cabin, 21:9 cinematic", "1024x432"),
    ("rainy Tokyo street 9:16", "576x1024"),
    ("a photo of Tokyo 16:9", "1024x576"),
    ("a landscape of rolling hills 16:9, golden hour", "1024x576"),
    ("a tall banner 1:2 with ivy", "512x1024"),
    ("an album cover, 1:1", "1024x1024"),
    # a ratio naming the picture itself
    ("portrait 9:16 of an old fisherman", "576x1024"),
    ("Portrait 9:16, a woman reading", "576x1024"),
    ("widescreen 16:9 wallpaper of a nebula", "1024x576"),
    ("a 16:9 image of a volcano", "1024x576"),
    ("A 16:9 wallpaper: northern lights over a lake", "1024x576"),
    ("a 9:16 phone wallpaper of koi fish", "576x1024"),
    ("a 9:16 vertical poster of a concert", "576x1024"),
    ("a 3:1 header image for a blog", "1024x336"),
    ("a wide 2:1 banner for a bakery", "1024x512"),
    ("an ultrawide 21:9 panorama of the Alps", "1024x432"),
    ("a square 1:1 avatar of a robot", "1024x1024"),
    ("in 9:16 format, a waterfall", "576x1024"),
    ("a waterfall in portrait format 9:16", "576x1024"),
    ("a watercolor of Paris, 4:5 portrait", "816x1024"),
    ("a poster 2:3 of a jazz festival", "688x1024"),
    ("winning team photo 16:9", "1024x576"),
    ("a scoreboard photo 3:2", "768x512"),
    ("a photo of the team that won the cup, 16:9", "1024x576"),
    # Chinese
    ("一只猫 16：9", "1024x576"),
    ("一座雪山，16:9", "1024x576"),
    ("一座雪山16:9", "1024x576"),
    ("一只橘猫在窗台上，比例 3:4", "768x1024"),
    ("画面比例16:9，一座雪山", "1024x576"),
    ("宽高比 9:16 的城市夜景", "576x1024"),
    # pixel sizes
    ("a dog 1024x768", "1024x768"),
    ("a knight, 512 x 768", "512x768"),
    ("a cottage 1536×1024", "1536x1024"),
    ("a 1920x1080 image of a mountain lake", "1920x1080"),
    ("a 1920x1080 wallpaper of a galaxy", "1920x1080"),
    ("a 1280x720 thumbnail for a cooking video", "1280x720"),
    ("a 512x512 icon of a rocket", "512x512"),
    ("a 1024x1024 pixel image of a koi pond", "1024x1024"),
    ("1024x1024 pixels, a bowl of ramen", "1024x1024"),
    ("a bowl of ramen 768x1024px", "768x1024"),
    ("a 1920x1080 monitor on a desk, 16:9", "1024x576"),
]

MEANS_SOMETHING_ELSE = [
    # scores
    "the score was 2:1 at halftime",
    "a football team that won 3:1",
    "celebrating a 2:1 lead in the second half",
    "fans cheering after a 4:3 victory",
    "the final ended 1:1 after extra time",
    "Liverpool beat Arsenal 2:1 in the rain",
    "a scoreboard showing 3:2",
    "they lost 1:2 at home",
    "a hockey game tied 1:1",
    "the home side are 3:1 favourites",
    "a 2:1 win for the home team",
    "trailing 1:2 with ten minutes left",
    "a 1:1 draw in the derby",
    "they scored twice to win 2:1",
    "won the vote 3:2",
    # odds
    "3:2 odds on the underdog",
    "betting odds of 5:4 on a horse",
    "a horse at 5:4 odds",
    # scripture
    "John 3:16 on a banner",
    "Matthew 5:4 written in calligraphy",
    "a scroll reading Genesis 1:1",
    "Revelation 21:9 illuminated manuscript",
    "Ecclesiastes 3:1 on a wooden sign",
    "Luke 2:1 nativity scene",
    "Exodus 3:2 burning bush",
    "Acts 2:1 pentecost mural",
    "1 Kings 2:1 in gold letters",
    "Psalm 4:3 on a bookmark",
    "Jn 1:1 in Greek letters",
    "Surah 2:1 in Arabic calligraphy",
    "verse 4:5 of the poem",
    # times
    "meet at 10:30 in the park",
    "an alarm clock showing 5:45 pm",
    "a clock showing 9:16 pm",
    "a train leaving at 9:16",
    "the bell rang at 16:10",
    "a clock showing 9:21 am",
    "the 9:16 train to London",
    "breakfast at 9:16 sharp",
    "the 12:45 train",
    # versions
    "v2:1 release notes poster",
    "firmware v3:2 splash screen",
    # recipes and proportions
    "mix 1:1 flour and water",
    "a 2:1 mix of sand and cement",
    "a 1:1 ratio of vinegar to water",
    "mortar mixed at a ratio of 3:1 sand to cement",
    "dilute 1:2 with water",
    "a 3:1 blend of coffee beans",
    # pixel grids and objects with their own size
    "a 100x100 pixel grid",
    "a 100x100 grid of pixels",
    "an 8x8 chessboard",
    "a 2x4 lumber",
    "a 4x4 truck in the mud",
    "10x magnification of a leaf",
    "a 3x3 rubik's cube",
    "1920x1080 monitor on a desk",
    "a 1920x1080 display showing a spreadsheet",
    "a 4096x2160 projector in a cinema",
    "a 100x200 cm rug",
    "a 120x80 cm painting on the wall",
    "a 500x500 mm tile floor",
    "a 16:9 television on the wall",
    "an old 4:3 TV in the living room",
    "a 4:3 CRT monitor",
    "a 21:9 ultrawide monitor on a desk",
    "a 16:10 laptop on a desk",
    "a 16:9 screen in a conference room",
    "a 2:1 gear reduction",
]


def test_each_table_holds_at_least_fifty_phrases():
    assert len(MEANS_A_SIZE) >= 50 and len(MEANS_SOMETHING_ELSE) >= 50


@pytest.mark.parametrize(("text", "size"), MEANS_A_SIZE)
def test_a_phrase_that_asks_for_an_image_size_or_ratio_sets_the_size(text, size):
    choice = choose_size(text, model_default=MODEL_DEFAULT)

    assert choice.size == size
    assert choice.source in ("text-ratio", "text-size")


@pytest.mark.parametrize("text", MEANS_SOMETHING_ELSE)
def test_numbers_that_mean_something_else_keep_the_default_size_and_the_words(text):
    choice = choose_size(text, model_default=MODEL_DEFAULT)

    assert (choice.size, choice.source, choice.ratio) == (MODEL_DEFAULT, "default", "")
    assert choice.prompt == text


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ("a lion (16:9)", "a lion"),
        ("1024x1024 pixels, a bowl of ramen", "a bowl of ramen"),
        ("a bowl of ramen 768x1024px", "a bowl of ramen"),
        ("一只橘猫在窗台上，比例 3:4", "一只橘猫在窗台上"),
        ("a 1920x1080 monitor on a desk, 16:9", "a 1920x1080 monitor on a desk"),
    ],
)
def test_what_was_read_is_cut_from_the_prompt_and_nothing_else(text, prompt):
    assert choose_size(text).prompt == prompt
