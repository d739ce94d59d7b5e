import pytest

from vendors.size_rules import NegotiatedSize, SizeCapability, negotiate, ratio_name

DALL_E_3 = SizeCapability.parse(sizes="1024x1024, 1792x1024, 1024x1792")
STABILITY = SizeCapability.parse(ratios="16:9 1:1 21:9 2:3 3:2 4:5 5:4 9:16 9:21")
BFL = SizeCapability.parse(multiple_of=32, min_side=256, max_side=1440)
ONE_MEGAPIXEL = SizeCapability.parse(max_megapixels=1.0)
ANYTHING = SizeCapability()


# --- parsing what operators type ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "sizes"),
    [
        ("", ()),
        ("1024x1024", ((1024, 1024),)),
        ("1024x1024, 1792x1024, 1024x1792", ((1024, 1024), (1792, 1024), (1024, 1792))),
        ("1024x1024 1792x1024", ((1024, 1024), (1792, 1024))),
        (" 1024 x 768 ;512X512,", ((1024, 768), (512, 512))),
        ("1024×1024", ((1024, 1024),)),
        ("1024x1024, 1024x1024", ((1024, 1024),)),
    ],
)
def test_allowed_sizes_are_read_in_order(text, sizes):
    assert SizeCapability.parse(sizes=text).sizes == sizes


@pytest.mark.parametrize(
    ("text", "ratios"),
    [
        ("16:9 1:1", ((16, 9), (1, 1))),
        ("1:1, 16:9, 9:16", ((1, 1), (16, 9), (9, 16))),
        ("21 : 9", ((21, 9),)),  # kept as written: vendors want their own enum back
    ],
)
def test_allowed_ratios_are_read_as_written(text, ratios):
    assert SizeCapability.parse(ratios=text).ratios == ratios


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sizes": "1024x1024, big"}, "'big' is not a size like 1024x768."),
        ({"sizes": "1024"}, "'1024' is not a size like 1024x768."),
        ({"sizes": "16:9"}, "'16:9' is not a size like 1024x768."),
        ({"sizes": "0x1024"}, "'0x1024' has a zero side"),
        ({"ratios": "16:9, wide"}, "'wide' is not an aspect ratio like 16:9."),
        ({"ratios": "1024x1024"}, "'1024x1024' is not an aspect ratio like 16:9."),
        ({"ratios": "16:0"}, "'16:0' has a zero side"),
        ({"multiple_of": 0}, "The multiple must be at least 1"),
        ({"min_side": 0}, "The smallest side must be at least 1"),
        ({"min_side": 1024, "max_side": 512}, "The smallest side (1024) is larger than the largest side (512)."),
        ({"max_megapixels": 0.0}, "The megapixel limit must be more than 0"),
        ({"multiple_of": 64, "min_side": 330, "max_side": 370}, "No multiple of 64 lies between 330 and 370."),
        ({"min_side": 2048, "max_megapixels": 1.0}, "The smallest image (2048x2048) is over the limit of 1.0"),
    ],
)
def test_bad_capabilities_are_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(ValueError) as caught:
        SizeCapability.parse(**kwargs)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("capability", "unconstrained"),
    [
        (SizeCapability(), True),
        (SizeCapability.parse(), True),
        (DALL_E_3, False),
        (STABILITY, False),
        (SizeCapability(multiple_of=8), False),
        (SizeCapability(min_side=64), False),
        (SizeCapability(max_side=2048), False),
        (ONE_MEGAPIXEL, False),
    ],
)
def test_unconstrained_only_without_any_rule(capability, unconstrained):
    assert capability.unconstrained is unconstrained


# --- negotiation --------------------------------------------------------------------------------

CASES = [
    # (capability, asked, expected size, expected ratio, adjusted)
    # an allowed list: closest in shape, then in area
    (DALL_E_3, (1024, 576), (1792, 1024), "7:4", True),
    (DALL_E_3, (576, 1024), (1024, 1792), "4:7", True),
    (DALL_E_3, (1024, 1024), (1024, 1024), "1:1", False),
    (DALL_E_3, (512, 512), (1024, 1024), "1:1", True),
    (DALL_E_3, (1792, 1024), (1792, 1024), "7:4", False),
    (DALL_E_3, (1024, 432), (1792, 1024), "7:4", True),
    (SizeCapability.parse(sizes="512x512, 1024x1024, 2048x2048"), (900, 900), (1024, 1024), "1:1", True),
    (SizeCapability.parse(sizes="512x512, 1024x1024, 2048x2048"), (600, 600), (512, 512), "1:1", True),
    # allowed ratios: the closest ratio, at about the area asked for, in steps of 64
    (STABILITY, (1000, 560), (1024, 576), "16:9", True),
    (STABILITY, (1024, 576), (1024, 576), "16:9", False),
    (STABILITY, (1024, 1024), (1024, 1024), "1:1", False),
    (STABILITY, (1024, 432), (1024, 448), "21:9", True),
    (STABILITY, (432, 1024), (448, 1024), "9:21", True),
    (STABILITY, (768, 1024), (768, 960), "4:5", True),
    (STABILITY, (4000, 1000), (3072, 1280), "21:9", True),
    (SizeCapability.parse(ratios="16:9", multiple_of=16), (1000, 560), (992, 560), "16:9", True),
    # limits: keep the shape, scale down, clamp, round
    (BFL, (1000, 563), (992, 576), "16:9", True),
    (BFL, (1024, 1024), (1024, 1024), "1:1", False),
    (BFL, (2048, 1024), (1440, 736), "2:1", True),
    (BFL, (128, 128), (256, 256), "1:1", True),
    (BFL, (100, 2000), (256, 1440), "1:20", True),
    (ONE_MEGAPIXEL, (2048, 2048), (1024, 1024), "1:1", True),
    (ONE_MEGAPIXEL, (1000, 1000), (1000, 1000), "1:1", False),
    (ONE_MEGAPIXEL, (1536, 864), (1365, 768), "16:9", True),
    (SizeCapability.parse(max_megapixels=1.0, multiple_of=64), (1536, 864), (1344, 768), "16:9", True),
    (SizeCapability.parse(max_side=1024), (2048, 1152), (1024, 576), "16:9", True),
    (SizeCapability.parse(min_side=512), (256, 128), (1024, 512), "2:1", True),
    (SizeCapability.parse(multiple_of=8), (1000, 563), (1000, 560), "16:9", True),
    (SizeCapability.parse(min_side=512, max_megapixels=1.0, multiple_of=64), (4096, 256), (2048, 512), "16:1", True),
    # no rules: as asked
    (ANYTHING, (1024, 576), (1024, 576), "16:9", False),
    (ANYTHING, (1000, 563), (1000, 563), "16:9", False),
    (ANYTHING, (1024, 432), (1024, 432), "21:9", False),
    (ANYTHING, (777, 333), (777, 333), "7:3", False),
    (ANYTHING, (1000, 471), (1000, 471), "1000:471", False),
]


@pytest.mark.parametrize(("capability", "asked", "size", "ratio", "adjusted"), CASES)
def test_negotiation(capability, asked, size, ratio, adjusted):
    result = negotiate(*asked, capability)
    assert ((result.width, result.height), result.ratio, result.adjusted) == (size, ratio, adjusted)
    assert bool(result.reason) is adjusted


@pytest.mark.parametrize(("capability", "asked", "size", "ratio", "adjusted"), CASES)
def test_negotiation_never_breaks_the_models_rules(capability, asked, size, ratio, adjusted):
    result = negotiate(*asked, capability)
    if capability.sizes:
        assert (result.width, result.height) in capability.sizes
    if capability.ratios:
        assert tuple(int(term) for term in result.ratio.split(":")) in capability.ratios
    for side in (result.width, result.height):
        if capability.multiple_of:
            assert side % capability.multiple_of == 0
        if capability.min_side:
            assert side >= capability.min_side
        if capability.max_side:
            assert side <= capability.max_side
    if capability.max_megapixels:
        assert result.width * result.height <= capability.max_megapixels * 1024 * 1024


@pytest.mark.parametrize(
    ("capability", "asked", "reason"),
    [
        (DALL_E_3, (1024, 576), "the closest size the model supports"),
        (STABILITY, (1024, 768), "the closest aspect ratio the model supports (5:4), sides rounded to multiples of 64"),
        (STABILITY, (1000, 560), "sides rounded to multiples of 64"),
        (BFL, (1000, 563), "sides rounded to multiples of 32"),
        (BFL, (2048, 1024), "sides kept between 256 and 1440 pixels and rounded to multiples of 32"),
        (BFL, (100, 2000), "sides kept between 256 and 1440 pixels"),
        (SizeCapability.parse(min_side=512), (256, 128), "sides kept to at least 512 pixels"),
        (SizeCapability.parse(max_side=1024), (2048, 1152), "sides kept to at most 1024 pixels"),
        (ONE_MEGAPIXEL, (2048, 2048), "scaled down to 1.0 megapixels"),
        (
            SizeCapability.parse(max_megapixels=1.0, multiple_of=64),
            (1536, 864),
            "scaled down to 1.0 megapixels, sides rounded to multiples of 64",
        ),
        (SizeCapability.parse(max_megapixels=0.25), (1024, 1024), "scaled down to 0.25 megapixels"),
    ],
)
def test_the_reason_says_what_changed(capability, asked, reason):
    assert negotiate(*asked, capability).reason == reason


def test_an_unchanged_size_has_no_reason():
    assert negotiate(1024, 1024, DALL_E_3) == NegotiatedSize(1024, 1024, "1:1", adjusted=False, reason="")
    assert negotiate(1024, 576, ANYTHING).size == "1024x576"


def test_the_allowed_sizes_win_over_the_other_rules():
    capability = SizeCapability.parse(sizes="1024x1024, 1792x1024", ratios="1:1", multiple_of=100, max_side=512)
    assert negotiate(1024, 576, capability).size == "1792x1024"


def test_a_tie_in_shape_goes_to_the_closer_area_then_to_the_first_listed():
    capability = SizeCapability.parse(sizes="2048x1152, 1024x576, 512x288")
    assert negotiate(900, 506, capability).size == "1024x576"
    mirrored = SizeCapability.parse(sizes="1792x1024, 1024x1792")
    assert negotiate(1024, 1024, mirrored).size == "1792x1024"
    assert negotiate(1024, 1024, SizeCapability.parse(sizes="1024x1792, 1792x1024")).size == "1024x1792"


def test_a_ratio_keeps_about_the_area_asked_for():
    result = negotiate(2048, 1152, STABILITY)
    assert (result.size, result.ratio) == ("2048x1152", "16:9")
    small = negotiate(512, 288, STABILITY)
    assert (small.size, small.ratio) == ("512x320", "16:9")  # 288 is 4.5 steps of 64: rounded half up


def test_a_ratio_respects_the_models_limits_too():
    capability = SizeCapability.parse(ratios="1:1, 16:9", max_megapixels=1.0)
    result = negotiate(2048, 1152, capability)
    assert result.ratio == "16:9"
    assert result.width * result.height <= 1024 * 1024
    assert result.width % 64 == 0 and result.height % 64 == 0


@pytest.mark.parametrize(("width", "height"), [(0, 1024), (1024, 0), (-1, 5)])
def test_a_size_without_area_is_refused(width, height):
    with pytest.raises(ValueError):
        negotiate(width, height, ANYTHING)


@pytest.mark.parametrize(
    ("size", "name"),
    [((1024, 1024), "1:1"), ((1792, 1024), "7:4"), ((1024, 576), "16:9"), ((1024, 432), "21:9"), ((688, 1024), "2:3")],
)
def test_ratio_names_are_readable(size, name):
    assert ratio_name(*size) == name
