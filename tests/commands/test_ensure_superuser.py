from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("DJANGO_SUPERUSER_USERNAME", "DJANGO_SUPERUSER_PASSWORD", "DJANGO_SUPERUSER_EMAIL"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def run():
    out = StringIO()
    call_command("ensure_superuser", stdout=out)
    return out.getvalue()


def test_the_superuser_named_in_the_environment_is_created_without_printing_the_password(clean_env):
    clean_env.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    clean_env.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    clean_env.setenv("DJANGO_SUPERUSER_EMAIL", "ops@example.com")

    output = run()

    user = get_user_model().objects.get(username="ops")
    assert user.is_superuser and user.is_staff and user.email == "ops@example.com"
    assert user.check_password(PASSWORD)
    assert "created" in output and PASSWORD not in output


def test_an_existing_user_is_left_as_it_is(clean_env):
    get_user_model().objects.create_superuser(username="ops", email="", password="old-password-1")
    clean_env.setenv("DJANGO_SUPERUSER_USERNAME", "ops")
    clean_env.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)

    output = run()

    assert get_user_model().objects.count() == 1
    assert get_user_model().objects.get(username="ops").check_password("old-password-1")
    assert "already exists" in output and PASSWORD not in output


def test_without_the_variables_it_explains_how_to_make_an_admin_in_one_line(clean_env):
    clean_env.setenv("DJANGO_SUPERUSER_USERNAME", "ops")

    output = run()

    assert not get_user_model().objects.exists()
    assert output.count("\n") == 1
    assert "DJANGO_SUPERUSER_PASSWORD" in output and "createsuperuser" in output
