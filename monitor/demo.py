"""`kamerwacht demo`: replay the seed case through the real daemon against a loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
from pathlib import Path

from monitor import config as config_module
from monitor import schema
from monitor.daemon import Daemon, DaemonHooks
from monitor.records import EventKind
from monitor.replay import ReplayServer, load_timeline


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise RuntimeError("no free TCP port")  # pragma: no cover


def demo_config_text(server: ReplayServer, data_dir: Path, web_port: int, interval: float) -> str:
    urls = server.source_settings()
    return f"""# Written by `kamerwacht demo`: every source points at the local replay server.
[storage]
data_dir = "{data_dir}"

[sources.syncfeed]
base_url = "{urls["syncfeed"]}"
poll_interval = {interval}

[sources.koop]
repository_url = "{urls["repository_url"]}"
sru_url = "{urls["sru_url"]}"
zoek_url = "{urls["zoek_url"]}"

[crawl]
download_delay = 0.0
autothrottle = false
contact = "demo@localhost"

[web]
port = {web_port}
public_url = "http://127.0.0.1:{web_port}"

[alerts]
outbox_interval = 1.0
max_age_days = 0
"""


async def run_demo(data_dir: Path | None, interval: float, linger: float, web_port: int) -> int:
    """Run the demo; returns a process exit code."""
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="kamerwacht-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    stages = load_timeline()
    port = free_port(web_port)
    with ReplayServer() as server:
        config_path = data_dir / "config.toml"
        config_path.write_text(demo_config_text(server, data_dir, port, interval), encoding="utf-8")
        config = config_module.load(config_path)
        engine = schema.make_engine(config.database_url)
        schema.upgrade(engine)
        engine.dispose()
        print(f"Kamerwacht demo: replaying case 2021Z14612 from {server.url}")
        print(f"Web page: {config.web.public_url}/")
        pending = list(stages)
        done = asyncio.Event()

        async def advance() -> None:
            if done.is_set():
                return
            corrected = [
                c
                for c in daemon.store.change_records(limit=50)
                if c.event is EventKind.CORRECTED and not c.silent
            ]
            if corrected and not pending:
                await daemon.deliver()
                done.set()
                return
            if pending:
                stage = pending.pop(0)
                server.state.apply(stage)
                print(f"\n--- upstream: {stage.say}")

        daemon = Daemon(config, DaemonHooks(after_cycle=advance))
        runner = asyncio.create_task(daemon.run())
        stopper = asyncio.create_task(done.wait())
        finished, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in finished:
            runner.result()
            return 1
        print(f"\nThe correction was detected. Web page: {config.web.public_url}/")
        if linger > 0:
            print(f"Serving the web page for {linger:.0f} s (Ctrl-C stops sooner).")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(daemon.stopping.wait()), linger)
        daemon.stop()
        await runner
    print(f"\nDatabase: {config.database_url}")
    print(f"See it again: kamerwacht --config {config_path} serve")
    return 0
