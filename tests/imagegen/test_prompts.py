import pytest

from imagegen.prompts import final_answer, limit_words
from vendors.adapters.base import ChatReply


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (ChatReply(content="a red lantern, rainy street, night"), "a red lantern, rainy street, night"),
        (ChatReply(content="<think>the user wants rain</think>\n\na red lantern, rain"), "a red lantern, rain"),
        (ChatReply(content="the user wants rain, so...</think>\na red lantern, rain"), "a red lantern, rain"),
        (ChatReply(content="<thinking>hm</thinking> lantern, dusk"), "lantern, dusk"),
        (ChatReply(content="a lantern", reasoning="long thoughts about lanterns"), "a lantern"),
        (ChatReply(content='Prompt: "a lantern, dusk"'), "a lantern, dusk"),
        (ChatReply(content="<think>still thinking when the budget ran out"), ""),
        (ChatReply(content="", finish_reason="length"), ""),
        (ChatReply(content="<think>a</think>first</think> second"), "second"),
    ],
)
def test_the_final_answer_drops_any_thinking(reply, expected):
    assert final_answer(reply) == expected


def test_answers_are_cut_to_the_word_limit():
    long = ", ".join(f"word{i}" for i in range(80))
    assert len(limit_words(long, 50).split()) == 50
    assert limit_words("short prompt", 50) == "short prompt"
