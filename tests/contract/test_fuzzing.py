"""Schemathesis against the live gateway, bounded for `make test` (`make fuzz` runs the long version)."""

from __future__ import annotations

import pytest

from tests.contract.fuzz import fuzz
from tests.contract.live import live_gateway

pytestmark = pytest.mark.e2e

# Generated cases per operation: with the coverage phase and the stateful scenarios, about 400
# cases in all, some 20 s on two cores.
EXAMPLES = 12


def test_the_gateway_keeps_its_published_contract_and_its_secrets(tmp_path):
    with live_gateway(tmp_path / "gateway") as gateway:
        run = fuzz(gateway, EXAMPLES, tmp_path / "reports")
    assert run.cases >= 100, run.output
    assert run.leaks == []
    assert run.failures == 0 and run.exit_code == 0, run.output
