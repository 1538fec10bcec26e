"""The sample district's signing key: ``make run`` gives its window a key, so the sample call can sign.

Sample configuration only (the one ``make run`` uses): on each start, the
window caller gets an HMAC key unless the key file under ``var/`` still
names a key in use, and the key file is written (mode 0600) for
``onewindow call --key-file``. Never in a district of its own: there the
security staff give keys with ``onewindow caller add-key``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.callers.keys import MAX_ACTIVE_KEYS, district_passphrase, hmac_key
from gateway.callers.signing_client import key_file_text
from gateway.config import Settings
from gateway.store import Store

SAMPLE_CALLER = "fangzhen-window"


async def ensure_sample_key(store: Store, settings: Settings, path: Path) -> str | None:
    """The key id in ``path`` once it names a key of the sample window in use; None when it cannot have one."""
    if path.exists():
        try:
            key_id = str(json.loads(path.read_text(encoding="utf-8"))["key_id"])
        except (OSError, ValueError, KeyError, TypeError):
            key_id = ""
        known = await store.caller_key(key_id) if key_id else None
        if known is not None and known.retired_at is None and known.caller_id == SAMPLE_CALLER:
            return key_id
    row, secret = hmac_key(SAMPLE_CALLER, district_passphrase(settings))
    if not await store.add_caller_key(row, max_active=MAX_ACTIVE_KEYS):
        return None  # the window holds two keys already: someone manages them by hand
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(key_file_text(row.key_id, SAMPLE_CALLER, row.alg, secret))
    temporary.replace(path)
    return row.key_id
