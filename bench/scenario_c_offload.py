"""(c) continued: the same image GETs through nginx in front of the gateway, two ways.

nginx runs pinned to the gateway's core, one worker, with the locations of a file in ``docker/``:
- ``cached`` (``nginx-image-cache.conf``): nginx answers from its own cache; the gateway sees the
  first GET of each image per minute;
- ``offloaded`` (``nginx-image-offload.conf``): the gateway, restarted with
  ``IMAGE_OFFLOAD_HEADER=X-Accel-Redirect``, checks every GET and names the file, which nginx sends
  from the media folder; the gateway is restarted without it afterwards, so the next scenario sees the
  default.
Skipped where there is no nginx binary (Debian: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from load import client_session, run_load
from meters import CpuMeter
from paths import ROOT

from tests.gateway_process import free_port

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


SNIPPETS = {"cached": "nginx-image-cache.conf", "offloaded": "nginx-image-offload.conf"}


def nginx_config(folder: Path, listen: int, upstream: int, media: Path, way: str) -> str:
    locations = (ROOT / "docker" / SNIPPETS[way]).read_text().replace("/srv/media/", f"{media}/")
    cache_zone = f"proxy_cache_path {folder / 'cache'} levels=1:2 keys_zone=images:10m max_size=1g inactive=1h;"
    temp = " ".join(
        f"{kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # The gateway keeps its data private to its user (imagegen.secrets_at_rest): nginx's workers read as that user.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    return (
        f"{user}pid {folder / 'nginx.pid'};\nerror_log {folder / 'error.log'};\nworker_processes 1;\n"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{ access_log off; {temp}\n{cache_zone}\n"
        f"upstream gateway {{ server 127.0.0.1:{upstream}; keepalive 64; }}\n"
        f'server {{ listen 127.0.0.1:{listen}; proxy_http_version 1.1; proxy_set_header Connection "";\n'
        f"proxy_set_header Host $http_host;\n{locations}\n}} }}\n"
    )


class Nginx:
    def __init__(self, upstream: int, media: Path, cpus: set[int] | None, way: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="imagegen-bench-nginx-"))
        self.port = free_port()
        (self.folder / "nginx.conf").write_text(nginx_config(self.folder, self.port, upstream, media, way))
        command = [NGINX, "-p", str(self.folder), "-c", str(self.folder / "nginx.conf"), "-g", "daemon off;"]
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        self.process = subprocess.Popen(command, stderr=subprocess.PIPE, preexec_fn=pin)
        time.sleep(0.5)
        if self.process.poll() is not None:
            raise RuntimeError(f"nginx exited: {self.process.stderr.read().decode()[:500]}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


async def behind_nginx(gateway, image_url: str, size: int, args) -> dict:
    if NGINX is None:
        return {"skipped": "no nginx on this machine"}
    out = {"cached": await _through(gateway, image_url, size, args, "cached")}
    gateway.extra_env["IMAGE_OFFLOAD_HEADER"] = "X-Accel-Redirect"
    gateway.restart()
    try:
        out["offloaded"] = await _through(gateway, image_url, size, args, "offloaded")
    finally:
        gateway.extra_env.pop("IMAGE_OFFLOAD_HEADER")
        gateway.restart()
    return out


async def _through(gateway, image_url: str, size: int, args, way: str) -> dict:
    nginx = Nginx(gateway.port, gateway.data_dir / "media", args.gateway_cpus, way)
    url = f"http://127.0.0.1:{nginx.port}{urlsplit(image_url).path}"
    try:
        async with client_session() as session:
            get = lambda s: s.get(url)  # noqa: E731
            check = lambda status, body: status == 200 and len(body) == size  # noqa: E731
            await run_load(session, get, n=200, concurrency=args.image_c, check=check)
            with CpuMeter(gateway.process.pid, nginx.process.pid) as cpu:
                result = await run_load(session, get, n=args.image_n, concurrency=args.image_c, check=check)
    finally:
        nginx.stop()
    out = result.summary()
    out["cpu"] = {"gateway_cpu_s": cpu.used["gateway_cpu_s"], "nginx_cpu_s": cpu.used["fake_cpu_s"], **cpu.used}
    out["mb_per_s"] = result.rps * size / 1e6
    print(f"  (c) nginx, {way}: {result.rps:.0f} req/s, p99 {out['p99_ms']:.1f} ms", flush=True)
    return out
