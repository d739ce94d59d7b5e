"""The seed variables of the real environment must not leak into these tests."""

from tests.commands.conftest import clean_env  # noqa: F401
