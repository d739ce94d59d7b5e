"""A bad setting stops the start with a message that names the variable."""

import os
import subprocess
import sys

import pytest

from tests.gateway_process import ROOT


def start_with(**env):
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "imagegen.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGE_MAX_BYTES", "twenty megabytes"),
        ("IMAGE_MAX_BYTES", "-5"),
        ("UPSTREAM_CONNECT_TIMEOUT", "soon"),
        ("IMAGE_FETCH_ALLOW_PRIVATE", "maybe"),
        ("DEBUG", "sometimes"),
        ("HTTP_TRANSPORT", "carrier-pigeon"),
        ("DATABASE_URL", "not-a-database://"),
    ],
)
def test_a_bad_value_stops_the_start_naming_the_variable(name, value, tmp_path):
    result = start_with(DATA_DIR=str(tmp_path), **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_the_embedded_defaults_start_with_nothing_set(tmp_path):
    result = start_with(DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / ".secret_key").exists()


def test_every_class_the_rest_framework_settings_name_exists():
    from django.conf import settings
    from django.utils.module_loading import import_string

    named = [
        value
        for setting in settings.REST_FRAMEWORK.values()
        for value in (setting if isinstance(setting, list) else [setting])
        if isinstance(value, str) and "." in value
    ]
    assert len(named) >= 6
    for dotted in named:
        assert import_string(dotted)
