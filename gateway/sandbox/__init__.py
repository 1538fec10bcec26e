"""The sandbox kit: real HTTP imitations of agency systems, with fault knobs.

Every agency plugin ships a sandbox -- an aiohttp application that speaks
its agency's protocol -- so the gateway, the plugin's own tests and a
newcomer's ``make run`` all talk to something real over loopback. The kit
holds what every sandbox shares:

* :mod:`~gateway.sandbox.faults` -- the fault knobs (latency, errors, maintenance, resets, stalls, garbage, flapping)
* :mod:`~gateway.sandbox.ledger` -- deduplicates submissions by the gateway's request id, counts the effective ones
* :mod:`~gateway.sandbox.replay` -- the nonces seen lately, in bounded memory (replayed calls refused)
* :mod:`~gateway.sandbox.application` -- fault injection and the ``/_sandbox`` control endpoints
* :mod:`~gateway.sandbox.running` -- a plugin's :class:`SandboxSpec`, and starting one on loopback

Plugins reach these names through :mod:`gateway.contract`.
"""

from gateway.sandbox.application import CONTROL_PREFIX, KNOBS, LEDGER, SANDBOX_NAME, sandbox_application
from gateway.sandbox.faults import FaultKnobs
from gateway.sandbox.ledger import SubmissionLedger
from gateway.sandbox.replay import ReplayWindow
from gateway.sandbox.running import RunningSandbox, SandboxSpec, sandbox_options, start_sandbox

__all__ = [
    "CONTROL_PREFIX",
    "KNOBS",
    "LEDGER",
    "SANDBOX_NAME",
    "FaultKnobs",
    "ReplayWindow",
    "RunningSandbox",
    "SandboxSpec",
    "SubmissionLedger",
    "sandbox_application",
    "sandbox_options",
    "start_sandbox",
]
