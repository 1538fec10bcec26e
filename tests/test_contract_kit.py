"""Every built-in agency plugin passes the contract test kit (gateway.testing), as any new one must."""

from __future__ import annotations

from typing import ClassVar

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
