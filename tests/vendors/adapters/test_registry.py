import pytest

from vendors.adapters import adapter_class, adapters, chat_kinds, image_kinds, kind_choices
from vendors.adapters.base import Adapter


@pytest.mark.parametrize("kind", list(adapters()))
def test_every_registered_kind_resolves_to_an_adapter_of_that_kind(kind):
    cls = adapter_class(kind)

    assert issubclass(cls, Adapter)
    assert cls.kind == kind
    assert cls.purpose in ("image", "chat")
    assert cls.label


def test_every_kind_is_a_vendor_kind_choice_labelled_by_its_adapter():
    assert kind_choices() == [(kind, cls.label) for kind, cls in adapters().items()]
    assert len({kind for kind, _ in kind_choices()}) == len(kind_choices())


def test_the_image_and_chat_kinds_split_by_purpose():
    assert image_kinds() and chat_kinds()
    assert set(image_kinds()) | set(chat_kinds()) == set(adapters())
    assert not set(image_kinds()) & set(chat_kinds())


def test_an_unknown_kind_is_a_lookup_error_naming_the_known_ones():
    with pytest.raises(LookupError, match=image_kinds()[0]):
        adapter_class("no_such_kind")
