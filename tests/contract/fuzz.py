"""Schemathesis against a live gateway, driven by its own published document (``/v1/openapi.json``).

    .venv/bin/python -m tests.contract.fuzz --examples 300 --min-cases 2000    # what `make fuzz` runs

Every operation is tried with examples, the coverage phase's edge values, generated cases (valid and
invalid) and stateful sequences (an image URL from a generation, fetched). A case fails on any 5xx, a
status the document does not list, a content type or body or header it does not describe. Every
answer is also searched for the client key, the vendor keys and the vendor's address, and the
gateway's log for the keys. The figure (cases, failures, time) is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.contract.live import CLIENT_KEY, VENDOR_KEYS, LiveGateway, live_gateway

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "ignored_auth",  # without the key, or with a wrong one, every authenticated operation answers 401
    "unsupported_method",  # a method the document does not list: 405, with an Allow header that lists the rest
    "allow_header_conformance",
)


@dataclass
class FuzzRun:
    cases: int
    failures: int
    seconds: float
    exit_code: int
    output: str
    leaks: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.exit_code == 0 and self.failures == 0 and self.cases > 0 and not self.leaks

    def figure(self) -> str:
        leaks = f", {len(self.leaks)} leaks" if self.leaks else ""
        return f"{self.cases} cases, {self.failures} failures{leaks} in {self.seconds:.1f} s"


def schemathesis_argv(gateway: LiveGateway, examples: int, reports: Path, seed: int | None) -> list[str]:
    argv = [str(Path(sys.executable).parent / "schemathesis"), "run", gateway.url + "/v1/openapi.json"]
    argv += ["--header", f"Authorization: Bearer {CLIENT_KEY}", "--checks", ",".join(CHECKS)]
    argv += [
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--no-color",
        "--generation-database",
        "none",
        "--output-sanitize",
        "false",
    ]
    argv += ["--report", "json,har", "--report-dir", str(reports)]
    argv += ["--report-json-path", str(reports / "run.json"), "--report-har-path", str(reports / "exchanges.har")]
    return argv + (["--seed", str(seed)] if seed is not None else [])


def fuzz(gateway: LiveGateway, examples: int, reports: Path, seed: int | None = None) -> FuzzRun:
    """One schemathesis run against ``gateway``; its reports are left in ``reports``."""
    reports.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = subprocess.run(
        schemathesis_argv(gateway, examples, reports, seed), cwd=reports, capture_output=True, text=True, timeout=3600
    )
    seconds = time.monotonic() - started
    report = json.loads((reports / "run.json").read_text()) if (reports / "run.json").exists() else {}
    cases = report.get("test_cases", {})
    leaks = leaked(gateway, reports / "exchanges.har")
    failures = cases.get("with_failures", 0) + cases.get("errored", 0) + len(report.get("errors", []))
    return FuzzRun(
        cases.get("generated", 0), failures, seconds, result.returncode, result.stdout + result.stderr, leaks
    )


def leaked(gateway: LiveGateway, har: Path) -> list[str]:
    """Where a secret showed: in an answer (status, headers, body) or in the gateway's log."""
    if not har.exists():
        return ["no exchange was recorded to search"]
    found = []
    entries = json.loads(har.read_text())["log"]["entries"]
    for entry in entries:
        response = entry["response"]
        text = json.dumps(response["headers"]) + response.get("content", {}).get("text", "")
        found += [f"{entry['request']['method']} {entry['request']['url']}" for s in gateway.secrets if s in text]
    log = gateway.process.log()
    found += ["the gateway's log" for secret in (CLIENT_KEY, *VENDOR_KEYS) if secret in log]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300, help="generated cases per operation at most")
    parser.add_argument("--min-cases", type=int, default=0, help="fail when fewer cases were run")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--reports", type=Path, default=None, help="where to keep schemathesis' reports")
    args = parser.parse_args(argv)
    # Kept after the run (every exchange, to look into a failure); the gateway's data is not.
    reports = args.reports or Path(tempfile.mkdtemp(prefix="imagegen-fuzz-reports-"))
    with tempfile.TemporaryDirectory(prefix="imagegen-fuzz-") as tmp, live_gateway(Path(tmp)) as gateway:
        run = fuzz(gateway, args.examples, reports, args.seed)
    print(run.output)
    for where in run.leaks:
        print(f"LEAK: a key or the vendor's address in {where}")
    print(f"fuzz: {run.figure()}")
    if run.cases < args.min_cases:
        print(f"fuzz: fewer cases than the {args.min_cases} asked for")
        return 1
    return 0 if run.passed else 1


if __name__ == "__main__":
    sys.exit(main())
