"""Every built-in agency plugin passes the contract test kit (gateway.testing), as any new one must."""

from __future__ import annotations

import time
from typing import ClassVar

from gateway.contract import IntakeRequest, Outcome, Pending
from gateway.testing import AgencyContract


class TestTaxContract(AgencyContract):
    agency = "tax"


class TestSocialSecurityContract(AgencyContract):
    agency = "social_security"


class TestMedicalContract(AgencyContract):
    agency = "medical"


class TestHousingFundContract(AgencyContract):
    agency = "housing_fund"


class TestPropertyContract(AgencyContract):
    agency = "property"
    sandbox_options: ClassVar = {"decision_delay_s": 0.2}  # the registration centre decides at once


async def test_agency_kit_sets_the_agencys_own_options_and_polls_after_poll_after(agency_kit) -> None:
    async with agency_kit(
        "property", options={"decision_delay_s": 1.3}, agency_options={"default_poll_after_s": 0.7}
    ) as kit:
        assert kit.settings.agency("property").options["default_poll_after_s"] == 0.7  # over the sandbox's demo
        request = kit.request("property.title-reissue")
        first = await kit.submit(request)
        assert isinstance(first, Pending) and first.poll_after > 1.0
        polls = []
        poll = kit.poll

        async def counted(ticket: str, request: IntakeRequest) -> Outcome:
            polls.append(time.monotonic())
            return await poll(ticket, request)

        kit.poll = counted  # type: ignore[method-assign]
        final = await kit.settle(request, first)
    assert not isinstance(final, Pending) and len(polls) == 1  # the gateway waits poll_after; so does the kit
