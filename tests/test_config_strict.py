"""A configuration that refuses mistakes: unknown keys, sections and variables, shared keys, bad identities.

Each refusal is one line that names the key (and the closest known one for
a typo); nothing unknown is ignored.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.config import NOT_SETTINGS, ConfigError, load_settings
from gateway.config.environment import setting_path

ROOT = Path(__file__).resolve().parents[1]
DIGEST = "d9b1f52411c832add3241f2dfe95de24d68138b017aa1c553d924419adde6c03"
# A district that still lets these callers use their API keys (new districts do not: test_caller_keys.py).
OFFICE = (
    '[authentication]\nallow_api_key = true\n[[offices]]\ncode = "370399100000"\nname = "示范镇便民服务中心"\n'
    'level = "town"\n'
)


def refusal(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> str:
    path = tmp_path / "district.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ or {})
    message = str(caught.value)
    assert "\n" not in message
    return message


def caller(**values: str) -> str:
    row = {"id": "window", "office": "370399100000", "channel": "window", "api_key_sha256": DIGEST, **values}
    return "[[callers]]\n" + "".join(f'{k} = "{v}"\n' for k, v in row.items()) + 'items = ["*"]\n'


# -- unknown keys and sections, with the closest known one ---------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[server]\nprot = 8701\n", "server.prot: unknown key (did you mean server.port?)"),
        ("[audti]\nenabled = false\n", "audti: unknown section (did you mean audit?)"),
        ("[logging]\nlevle = 'debug'\n", "logging.levle: unknown key (did you mean logging.level?)"),
        ("[pki]\npassphrase = 'x'\n", "pki.passphrase: unknown key (did you mean pki.passphrase_file?)"),
        ("[outbox]\ntick = 1\n", "outbox.tick: unknown key (did you mean outbox.tick_s?)"),
        ("[audit]\ncheckpoint_evry = 5\n", "audit.checkpoint_evry: unknown key (did you mean audit.checkpoint_every?)"),
        (
            "[retention]\nfinished_after = 30\n",
            "retention.finished_after: unknown key (did you mean retention.finished_after_days?)",
        ),
        (
            "[agencies.tax]\nbase_ulr = 'https://tax.example/'\n",
            "agencies.tax.base_ulr: unknown key (did you mean agencies.tax.base_url?)",
        ),
        (
            "[agencies.tax]\nname = '示范区税务局'\n",
            "agencies.tax.name: unknown key (did you mean agencies.tax.name_zh?)",
        ),
        ("[sandboxes]\nxyzzy = 1\n", "sandboxes.xyzzy: unknown key"),
        ("[frobnicate]\nx = 1\n", "frobnicate: unknown section"),
        (OFFICE.replace("name =", "nmae ="), "offices[0].nmae: unknown key (did you mean offices[0].name?)"),
    ],
)
def test_an_unknown_key_or_section_is_refused_naming_it_and_the_closest_known_one(
    tmp_path: Path, text: str, message: str
) -> None:
    assert refusal(tmp_path, text) == message


def test_a_misspelt_api_key_sha_is_named_not_reported_as_a_missing_digest(tmp_path: Path) -> None:
    text = OFFICE + caller().replace("api_key_sha256 =", "api_key_sha =")
    assert refusal(tmp_path, text) == "callers[0].api_key_sha: unknown key (did you mean callers[0].api_key_sha256?)"


def test_a_long_unknown_key_is_cut_in_the_message(tmp_path: Path) -> None:
    message = refusal(tmp_path, f'[server]\n"{"x" * 500}" = 1\n')
    assert message.startswith("server.'xxxx") and len(message) < 120


# -- environment variables ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "ONEWINDOW_SERVR__PORT",
            "environment variable ONEWINDOW_SERVR__PORT: servr is no section (did you mean ONEWINDOW_SERVER__PORT?)",
        ),
        (
            "ONEWINDOW_SERVER__PROT",
            "environment variable ONEWINDOW_SERVER__PROT: server.prot is no setting "
            "(did you mean ONEWINDOW_SERVER__PORT?)",
        ),
        (
            "ONEWINDOW_SEAL_PASSPHRAS",
            "environment variable ONEWINDOW_SEAL_PASSPHRAS: is neither a setting (ONEWINDOW_<SECTION>__<KEY>) "
            "nor a variable Onewindow reads (did you mean ONEWINDOW_SEAL_PASSPHRASE?)",
        ),
        (
            "ONEWINDOW_AGENCIES__TAX__BASE_ULR",
            "environment variable ONEWINDOW_AGENCIES__TAX__BASE_ULR: agencies.tax.base_ulr is no setting "
            "(did you mean ONEWINDOW_AGENCIES__TAX__BASE_URL?)",
        ),
        (
            "ONEWINDOW_SERVER__PORT__X",
            "environment variable ONEWINDOW_SERVER__PORT__X: server.port is a value, not a table",
        ),
        (
            "ONEWINDOW_CALLERS__0__ID",
            "environment variable ONEWINDOW_CALLERS__0__ID: [[callers]] is a list of tables: "
            "set it in the configuration file",
        ),
    ],
)
def test_an_unknown_onewindow_variable_is_refused_naming_it_and_the_closest_known_one(name: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: "9090"})
    assert str(caught.value) == message


def test_the_variables_that_are_not_settings_and_the_settings_are_accepted() -> None:
    environ = {name: "x" for name in NOT_SETTINGS if name != "ONEWINDOW_CONFIG"}
    environ |= {"ONEWINDOW_SERVER__PORT": "9191", "ONEWINDOW_AGENCIES__TAX__SECRETS__APP_SECRET": "s3cret"}
    environ |= {"OTHER_TOOL_SERVR__PORT": "1"}  # not ours: never looked at
    settings = load_settings(environ=environ)
    assert settings.port == 9191 and settings.agency("tax").secrets["app_secret"] == "s3cret"
    assert settings.from_environment == {
        "server.port": "ONEWINDOW_SERVER__PORT",
        "agencies.tax.secrets.app_secret": "ONEWINDOW_AGENCIES__TAX__SECRETS__APP_SECRET",
    }


def test_every_onewindow_variable_the_code_reads_is_a_setting_or_listed_as_not_one() -> None:
    """A variable added to the code without being listed would be refused at the next start."""
    found = set()
    for folder in ("gateway", "signing"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "environment.py":
                continue  # the list itself
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found |= set(re.findall(r"^ONEWINDOW_[A-Z0-9_]*[A-Z0-9]$", node.value))
    assert {"ONEWINDOW_PKCS11_PIN", "ONEWINDOW_TRUST_STORE", "ONEWINDOW_WORKER_SANDBOXES"} <= found
    for name in sorted(found):
        if "__" in name or name in NOT_SETTINGS:
            setting_path(name)  # raises for an unknown one
        else:
            pytest.fail(f"{name} is read by the code but neither a setting nor listed in NOT_SETTINGS")


def test_check_config_refuses_an_unknown_variable_in_one_line(monkeypatch, capsys) -> None:
    monkeypatch.setenv("ONEWINDOW_SERVR__PORT", "8701")
    assert main(["check-config"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "onewindow: environment variable ONEWINDOW_SERVR__PORT: servr is no section "
        "(did you mean ONEWINDOW_SERVER__PORT?)\n"
    )


# -- callers -----------------------------------------------------------------------------------------------


def test_two_callers_with_the_same_key_digest_are_refused(tmp_path: Path) -> None:
    text = OFFICE + caller(id="window") + caller(id="kiosk", channel="kiosk", api_key_sha256=DIGEST.upper())
    assert refusal(tmp_path, text) == (
        "callers[1].api_key_sha256: the same key digest as callers[0] (window): "
        "every caller needs a key of its own ('onewindow caller new-key')"
    )


def test_a_caller_declared_twice_is_refused_naming_both(tmp_path: Path) -> None:
    text = OFFICE + caller(id="window") + caller(id="window", api_key_sha256="0" * 64)
    assert refusal(tmp_path, text) == "callers[1].id: caller 'window' is declared twice (also callers[0])"


# -- the agency's identity and address -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'credit_code = "11370399MB0B01234E"',
            "agencies.tax.credit_code: '11370399MB0B01234E' is not a unified social credit code "
            "(GB 32100: check_digit)",
        ),
        ('name_zh = "   "', "agencies.tax.name_zh: must be printable text, not '   '"),
        ('name_en = "Tax\\nBureau"', "agencies.tax.name_en: must be printable text, not 'Tax\\nBureau'"),
        (
            'base_url = "http://gateway@tax.example/"',
            "agencies.tax.base_url: 'http://gateway@tax.example/' names a user (userinfo before '@')",
        ),
        (
            'base_url = "http://0x7f.1/api"',
            "agencies.tax.base_url: 'http://0x7f.1/api' has a numeric host that is not a plain dotted-quad "
            "IPv4 address",
        ),
        (
            'base_url = "https://tax.example/api?key=1"',
            "agencies.tax.base_url: 'https://tax.example/api?key=1' has a query; "
            "paths are joined to the base URL, so it cannot",
        ),
        (
            'base_url = "ftp://tax.example/"',
            "agencies.tax.base_url: 'ftp://tax.example/' is not an http:// or https:// URL",
        ),
    ],
)
def test_an_agency_identity_or_address_that_is_not_one_is_refused(tmp_path: Path, line: str, message: str) -> None:
    assert refusal(tmp_path, f"[agencies.tax]\n{line}\n") == message


def test_an_unquoted_item_code_in_item_timeouts_is_told_to_be_quoted(tmp_path: Path) -> None:
    text = "[agencies.property]\nitem_timeouts = { property.registration-query = 30 }\n"
    assert refusal(tmp_path, text) == (
        "agencies.property.item_timeouts: quote the item code, it holds a dot: 'property.registration-query' = ..."
    )


def test_an_agency_the_district_has_not_named_is_refused_naming_the_keys() -> None:
    settings = load_settings(environ={})
    unnamed = dataclasses.replace(settings.agency("tax"), name_zh="")
    with pytest.raises(ConfigError) as caught:
        dataclasses.replace(settings, agencies={**settings.agencies, "tax": unnamed}).agency_identity("tax")
    assert str(caught.value) == (
        "agencies.tax.name_zh: is required: the district names every agency it runs, "
        "and the agency's sealed results print these names"
    )
    with pytest.raises(ConfigError, match=r"^agencies\.civil_affairs\.\{name_zh, name_en, authority_zh, authority_en"):
        settings.agency_identity("civil_affairs")


def test_the_sample_configuration_names_its_agencies_with_valid_credit_codes() -> None:
    settings = load_settings(environ={})
    names = {code: settings.agency_identity(code).name_zh for code in settings.agencies}
    assert names["tax"] == "国家税务总局淄博市张店区税务局"
    assert set(names) == {"tax", "social_security", "medical", "housing_fund", "property"}
    assert settings.agency_identity("property").authority_zh == "淄博市自然资源和规划局张店分局"
