"""A ``.env`` in the checkout configures `make run`, and never the test suite or the gateways it starts.

The poisoned file is written beside a copy of the ``imagegen`` package, which is where the settings
look for it (``BASE_DIR / ".env"``), so the real checkout is never touched.
"""

import os
import shutil
import subprocess
import sys

import pytest
from django.conf import settings

from tests.gateway_process import ROOT, GatewayProcess

POISONED_MAX_BYTES = "13"


@pytest.fixture
def checkout(tmp_path):
    """A copy of the settings' package with a poisoned ``.env`` where they look for one."""
    copy = tmp_path / "checkout"
    shutil.copytree(ROOT / "imagegen", copy / "imagegen", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / ".env").write_text(f"IMAGE_MAX_BYTES={POISONED_MAX_BYTES}\n")
    return copy


def image_max_bytes_seen(checkout, environment: dict[str, str]) -> str:
    """IMAGE_MAX_BYTES as the copied settings read it, started with ``environment``."""
    environment = {name: value for name, value in environment.items() if name != "IMAGE_MAX_BYTES"}
    environment.update(PYTHONPATH=f"{checkout}{os.pathsep}{ROOT}", DATA_DIR=str(checkout / "data"))
    result = subprocess.run(
        [sys.executable, "-c", "import imagegen.settings as s; print(s.IMAGE_MAX_BYTES)"],
        cwd=checkout,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def without_env_file_setting(environment) -> dict[str, str]:
    return {name: value for name, value in environment.items() if name != "ENV_FILE"}


def test_make_run_reads_the_env_file_beside_the_code(checkout):
    assert image_max_bytes_seen(checkout, without_env_file_setting(os.environ)) == POISONED_MAX_BYTES


def test_the_suite_ignores_the_env_file_beside_the_code(checkout):
    assert image_max_bytes_seen(checkout, dict(os.environ)) != POISONED_MAX_BYTES


def test_a_gateway_the_suite_starts_ignores_the_env_file_beside_the_code(checkout, tmp_path):
    environment = GatewayProcess(tmp_path / "gateway", {}).env()

    assert image_max_bytes_seen(checkout, environment) != POISONED_MAX_BYTES


def test_env_file_names_another_file_to_read(checkout, tmp_path):
    other = tmp_path / "production.env"
    other.write_text("IMAGE_MAX_BYTES=42\n")

    environment = {**without_env_file_setting(os.environ), "ENV_FILE": str(other)}

    assert image_max_bytes_seen(checkout, environment) == "42"


def test_the_suites_own_settings_were_read_without_an_env_file():
    # The plugin must run before pytest-django imports the settings; if it ran later this would be the path.
    assert settings.ENV_FILE == ""
