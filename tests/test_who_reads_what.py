"""Who may read a request: the caller that made it; and, only where the district set
``read_office_requests``, its office's requests for items the caller could have requested itself.
Anything else is 404 -- the same answer as an id that does not exist."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.config import ConfigError, load_settings
from gateway.testing.samples import envelope_for
from tests.helpers import BANK_KEY, CLEARANCE, KIOSK_KEY, PAYMENT_RECORD

PENSION = "social_security.resident-pension-enrolment"  # its channels leave out partner outlets
NOBODY = "01M8G4SDVRC5CZWFY161WBZNNC"


def callers_with(**reading: bool):
    """The sample callers with ``read_office_requests`` set as given (by caller id)."""
    return tuple(
        dataclasses.replace(c, read_office_requests=reading.get(c.id.replace("-", "_"), c.read_office_requests))
        for c in load_settings(environ={}).callers
    )


async def made_by_the_window(gw) -> dict[str, str]:
    """Requests accepted by the town centre's window, by item code; their ids."""
    pension = envelope_for(gw.gateway.registry.catalogue.get(PENSION))
    made = {}
    for envelope in (PAYMENT_RECORD, CLEARANCE, pension):
        response = await gw.post(envelope)
        assert response.status in (201, 202), await response.text()
        made[envelope["item"]] = (await response.json())["id"]
    return made


async def status_of(gw, request_id: str, key: str) -> tuple[int, int]:
    """The status of GET /v1/requests/{id} and of its audit proof, for the caller with ``key``."""
    resource = await gw.get(f"/v1/requests/{request_id}", key=key)
    proof = await gw.get(f"/v1/requests/{request_id}/audit-proof", key=key)
    return resource.status, proof.status


async def test_a_bank_outlet_in_the_same_office_cannot_read_the_windows_tax_record(gw) -> None:
    made = await made_by_the_window(gw)
    record = await gw.get(f"/v1/requests/{made['tax.payment-record']}", key=BANK_KEY)
    missing = await gw.get(f"/v1/requests/{NOBODY}", key=BANK_KEY)
    assert record.status == missing.status == 404
    unseen, absent = await record.json(), await missing.json()
    assert unseen["type"] == absent["type"] == "/problems/not-found"  # nothing tells the two apart
    assert "张伟" not in await record.text()
    assert (await status_of(gw, made["tax.payment-record"], BANK_KEY))[1] == 404


async def test_a_kiosk_reads_its_own_requests_but_not_a_certificate_its_channel_cannot_request(gw) -> None:
    made = await made_by_the_window(gw)
    assert await status_of(gw, made["tax.clearance-certificate"], KIOSK_KEY) == (404, 404)
    assert (await status_of(gw, made["tax.payment-record"], KIOSK_KEY))[0] == 404
    own = await (await gw.post({**PAYMENT_RECORD, "channel": "kiosk"}, key=KIOSK_KEY)).json()
    assert (await gw.get(f"/v1/requests/{own['id']}", key=KIOSK_KEY)).status == 200


async def test_the_window_configured_to_read_its_office_reads_the_kiosks_requests(gw) -> None:
    own = await (await gw.post({**PAYMENT_RECORD, "channel": "kiosk"}, key=KIOSK_KEY)).json()
    assert (await gw.get(f"/v1/requests/{own['id']}")).status == 200  # fangzhen-window: read_office_requests
    assert (await gw.get(f"/v1/requests/{own['id']}", key="sample-mashang-window-key")).status == 404


async def test_reading_the_office_is_limited_to_items_the_callers_list_and_channel_allow(start_gateway) -> None:
    gw = await start_gateway(callers=callers_with(bank_outlet=True, fangzhen_window=False))
    made = await made_by_the_window(gw)
    assert (await status_of(gw, made["tax.payment-record"], BANK_KEY))[0] == 200  # in its list, its channel
    assert (await status_of(gw, made["tax.clearance-certificate"], BANK_KEY))[0] == 404  # not in its list
    assert (await status_of(gw, made[PENSION], BANK_KEY))[0] == 404  # in its list, not over its channel
    kiosk = await (await gw.post({**PAYMENT_RECORD, "channel": "kiosk"}, key=KIOSK_KEY)).json()
    assert (await gw.get(f"/v1/requests/{kiosk['id']}")).status == 404  # the window no longer reads the office


def test_read_office_requests_is_off_unless_configured_and_a_misspelling_is_refused(tmp_path) -> None:
    settings = load_settings(environ={})
    assert {c.id for c in settings.callers if c.read_office_requests} == {"fangzhen-window"}
    path = tmp_path / "district.toml"
    path.write_text(
        '[authentication]\nallow_api_key = true\n[[offices]]\ncode = "370303105000"\nname = "x"\nlevel = "town"\n'
        '[[callers]]\nid = "w"\noffice = "370303105000"\nchannel = "window"\nitems = ["*"]\n'
        'api_key_sha256 = "' + "0" * 64 + '"\nread_office_request = true\n',
        encoding="utf-8",
    )
    with pytest.raises(
        ConfigError,
        match=r"^callers\[0\]\.read_office_request: unknown key \(did you mean callers\[0\]\.read_office_requests\?\)$",
    ):
        load_settings(path, environ={})
