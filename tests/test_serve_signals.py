"""A stop signal that arrives once the socket listens is a drain and exit 0, however far start-up has got.

``serve`` listens, then settles the heap and prints its banner before it
waits for requests. A supervisor stopping a freshly restarted worker (or an
operator stopping a fresh gateway) can land in that stretch; the gateway
must drain there as anywhere else, not die of the signal's default action.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import textwrap

from tests.procs import free_port, write_config

# settle_heap runs after the socket listens and before the banner: the signal is sent from inside it
SCRIPT = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    import gateway.api.server as server
    from gateway.config import load_settings

    def settle_and_get_stopped() -> int:
        os.kill(os.getpid(), signal.SIGTERM)
        return 0

    server.settle_heap = settle_and_get_stopped
    asyncio.run(server.serve(load_settings(sys.argv[1])))
    print("serve returned", flush=True)
    """
)


async def test_sigterm_between_listening_and_serving_drains_and_exits_0(district, tmp_path) -> None:
    config = write_config(
        tmp_path / "c.toml",
        store_url=f"sqlite:///{tmp_path}/onewindow.db",
        district=district,
        server={"host": "127.0.0.1", "port": free_port()},
        outbox={"shutdown_grace_s": 0.5},
        agencies={
            code: {"base_url": "http://127.0.0.1:9"}
            for code in ("tax", "social_security", "medical", "housing_fund", "property")
        },
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SCRIPT, str(config), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (proc.returncode, signal.SIGTERM, err.decode()[-2000:])
    assert "serve returned" in out.decode()
    assert b"gateway.stopped" in out + err  # it drained
