"""Every exception the gateway raises on purpose, in one tree.

Catch at the level you care about, the way httpx's exceptions are laid out::

    OnewindowError                  anything the gateway raises deliberately
    ├── OperatorError               an operator can fix it: one line on stderr, exit 2
    │   ├── ConfigError             the configuration (the message names the key)
    │   ├── CatalogueError          a plugin's catalogue file (plugin, item, field)
    │   ├── PluginError             a plugin broke the contract (names the plugin)
    │   ├── StartupError            the gateway cannot start (says what to do)
    │   │   └── AuditSetupError     the audit log cannot be opened
    │   ├── AuditKeyError           the audit key is missing or will not open
    │   ├── PayloadKeyError         the audit payload key cannot be read or does not fit
    │   ├── StoreError              the store failed or cannot be reached
    │   │   └── StoreMissing        a read-only command found no store
    │   ├── WitnessError            the audit witness cannot be read or written, or holds what it should not
    │   ├── BackupError             a backup cannot be made, or an archive cannot be restored
    │   └── CommandError            a command's arguments or the state it found
    │       ├── ScaffoldError       ``new-plugin`` cannot create what was asked
    │       ├── OutboxCommandError  an outbox act was refused
    │       ├── AuditInputError     an ``audit`` command cannot use its input
    │       └── VerifyInputError    ``audit verify --from`` names nothing usable
    ├── AuditIntegrityError         the stored audit log no longer matches what was written or signed
    │   └── AuditUnavailable        the log was found damaged: nothing is recorded or sealed until repaired
    │                               (also an OperatorError: a command prints one line and exits 2)
    ├── SealUnavailable             no valid seal of the office covers the item
    ├── UnsafeCallbackUrl           a callback URL or prefix that could send results elsewhere
    ├── ClientDisconnected          the client went away before its body arrived
    ├── TrustBundleUnavailable      no signed trust bundle to hand out
    ├── PrintoutUnavailable         a sealed result cannot be printed now (no font, no PDF libraries, seal unusable)
    └── AgencyError                 talking to an agency failed (raised by plugins and the core)
        ├── AgencyUnavailable       unreachable or down: retried, deferred
        │   └── AgencyTimeout       no answer in time (raised by the core)
        ├── AgencyProtocolError     answered, but nothing the plugin can read
        ├── AgencyAuthError         our credentials were refused
        ├── AgencyRejectedCall      the call itself was refused (our parameters)
        └── PluginFault             a plugin's hook or adapter broke the contract at run time (names it)

Answers to intake callers are :class:`gateway.problems.ProblemError` (RFC 9457),
a sibling of this tree rather than part of it: they are a response, not a fault.
Plugins import the agency errors from :mod:`gateway.contract`, which re-exports them.
Errors of the seal package are :class:`signing.errors.SigningError` and below.
"""

from __future__ import annotations

from typing import Any


class OnewindowError(Exception):
    """Base of every exception the gateway raises on purpose."""


class OperatorError(OnewindowError):
    """A mistake an operator can fix; the command line prints it as one line and exits 2."""


class ConfigError(OperatorError, ValueError):
    """The configuration is invalid; the message names the field."""


class CatalogueError(OperatorError, ValueError):
    """A catalogue file is malformed; the message names plugin, item and field."""


class PluginError(OperatorError):
    """A plugin broke the contract; the message names it."""


class StartupError(OperatorError):
    """The gateway cannot start; the message says what to do."""


class AuditSetupError(StartupError):
    """The audit log cannot be opened; the message says what to do."""


class AuditKeyError(OperatorError):
    """The audit key is missing or cannot be opened; the message says what to do."""


class PayloadKeyError(OperatorError, ValueError):
    """The payload key cannot be read, or does not open a payload."""


class StoreError(OperatorError):
    """The store failed or is unreachable."""


class StoreMissing(StoreError):
    """A command that only reads the store found no store where the configuration points."""


class WitnessError(OperatorError):
    """The audit witness (where signed checkpoints are published) cannot be read or written, or is not this log's."""


class BackupError(OperatorError):
    """``onewindow backup`` cannot make its archive, or ``onewindow restore`` refuses one; the message says why."""


class CommandError(OperatorError):
    """A command failed in a way the user can fix; ``onewindow`` prints it as one line and exits 2."""


class ScaffoldError(CommandError, ValueError):
    """The plugin cannot be created as asked; the message is one line for the command."""


class OutboxCommandError(CommandError):
    """A refused outbox command; printed as one line (exit status 2)."""


class AuditInputError(CommandError):
    """Input an ``audit`` command cannot work with (exit 2)."""


class VerifyInputError(CommandError, ValueError):
    """``--from`` names nothing usable (exit 2)."""


class AuditIntegrityError(OnewindowError):
    """The stored log no longer matches what was appended or signed: refuse to sign over it.

    ``damage`` (a :class:`gateway.audit.integrity.Damage`) says what and where, when known.
    """

    def __init__(self, message: str, *, damage: Any = None) -> None:
        super().__init__(message)
        self.damage = damage


class AuditUnavailable(AuditIntegrityError, OperatorError):
    """The audit log is closed because it was found damaged: nothing is appended, signed or sealed.

    It stays closed until an operator repairs or recovers the store and the
    gateway restarts (docs/audit.md, "When the log is damaged"); a command
    that meets it prints one line and exits 2, as for every operator error.
    """


class SealUnavailable(OnewindowError):
    """The accepting office holds no valid seal covering the item."""


class UnsafeCallbackUrl(OnewindowError, ValueError):
    """A callback URL (or configured prefix) is not one the gateway can compare safely; the message says why."""


class ClientDisconnected(OnewindowError, ConnectionError):
    """The client closed its connection before its request body was complete: nobody to answer."""


class TrustBundleUnavailable(OnewindowError):
    """No signed trust bundle to hand out; the message says what the bureau should do."""


class PrintoutUnavailable(OnewindowError):
    """A sealed result cannot be printed as a signed PDF now; the message says why."""


class AgencyError(OnewindowError):
    """Base of every failure talking to an agency; catch this for "any"."""

    retryable: bool = False


class AgencyUnavailable(AgencyError):
    """The agency could not be reached or said it is down; worth retrying.

    Raise it for 5xx answers, maintenance pages, refused or reset
    connections. ``retry_after`` (seconds) passes on an agency's hint.
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AgencyTimeout(AgencyUnavailable):
    """The agency did not answer in time; the core raises this itself."""


class AgencyProtocolError(AgencyError):
    """The agency answered, but with something the plugin cannot read."""


class AgencyAuthError(AgencyError):
    """The agency refused our credentials: a configuration problem, not retried."""


class AgencyRejectedCall(AgencyError):
    """The agency refused the call itself (bad parameters on our side), not the applicant."""


class PluginFault(AgencyError):
    """A plugin's hook or adapter raised something unexpected or returned the wrong thing, at run time.

    Raised by the core, never by plugins: the message is one line naming the
    plugin and the hook (``plugin 'civil_affairs': onewindow_validate returned
    str, expected a list of Problem``), safe to show a caller (no exception
    text, which may carry an applicant's data). Not retried: a bug answers the
    same way twice.
    """

    def __init__(self, message: str, *, plugin: str, hook: str) -> None:
        super().__init__(message)
        self.plugin = plugin
        self.hook = hook


class RatingsCommandError(CommandError):
    """A refused ``ratings`` or ``report`` command; printed as one line (exit status 2)."""
