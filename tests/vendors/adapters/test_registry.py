import pytest

from vendors.adapters import ADAPTERS, adapter_class, chat_kinds, image_kinds
from vendors.adapters.base import Adapter


@pytest.mark.parametrize("kind", list(ADAPTERS))
def test_every_registered_kind_resolves_to_an_adapter_of_that_kind(kind):
    cls = adapter_class(kind)

    assert issubclass(cls, Adapter)
    assert cls.kind == kind
    assert cls.purpose in ("image", "chat")
    assert cls.label


def test_the_image_and_chat_kinds_split_by_purpose():
    assert {"siliconflow", "chat_image"} <= set(image_kinds())
    assert "openai_chat" in chat_kinds()
    assert not set(image_kinds()) & set(chat_kinds())


def test_an_unknown_kind_is_a_lookup_error_naming_the_known_ones():
    with pytest.raises(LookupError, match="siliconflow"):
        adapter_class("no_such_kind")
