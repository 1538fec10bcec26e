"""``check-config`` fails, with the same one line, wherever ``serve`` refuses to start.

Both run the start-up checks of :mod:`gateway.startup`; ``serve`` here is
the real ``onewindow serve --config FILE`` process an operator runs.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway.agencies.plugin_manager import plugin_manager
from gateway.cli.main import main
from gateway.config import load_settings
from gateway.contract import hookimpl
from gateway.errors import PluginError
from gateway.startup import check_start
from tests.helpers import configuring_test_agencies, identity_of
from tests.procs import ONEWINDOW, write_config
from tests.scripted_agency import CATALOGUE

AGENCIES = ("tax", "social_security", "medical", "housing_fund", "property")
NOBODY = "http://127.0.0.1:9"  # discard: nothing answers, and nothing here calls it


def district_file(tmp_path: Path, district: tuple[Path, Path], **sections: Any) -> Path:
    """A configuration serve would start with (sample offices, callers and agency names), changed by ``sections``."""
    agencies = {code: {"base_url": NOBODY} for code in AGENCIES}
    for code, values in sections.pop("agencies", {}).items():
        agencies[code] = {**agencies.get(code, {}), **values}
    return write_config(
        tmp_path / "district.toml",
        store_url=f"sqlite:///{tmp_path}/onewindow.db",
        district=district,
        server={"host": "127.0.0.1", "port": 0},  # never the real port, even if a check were missing
        agencies=agencies,
        **sections,
    )


def without_line(path: Path, line: str) -> Path:
    text = path.read_text(encoding="utf-8")
    assert line + "\n" in text
    path.write_text(text.replace(line + "\n", "", 1), encoding="utf-8")
    return path


def with_text(path: Path, text: str) -> Path:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return path


def add_caller(path: Path, items: str) -> Path:
    row = (
        '[[callers]]\nid = "typo-outlet"\noffice = "370303105000"\nchannel = "partner_outlet"\n'
        f'items = {items}\napi_key_sha256 = "{"ab" * 32}"\n'
    )
    return with_text(path, row)


def refusal_line(err: str) -> str:
    """The one line that says why (start-up warnings, log lines around it aside)."""
    lines = [line for line in err.splitlines() if line.startswith("onewindow: ") and "onewindow: warning:" not in line]
    assert len(lines) == 1, err
    return lines[0]


def check_config(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """check-config's one line: it exits 2 and prints no configuration."""
    status = main(["check-config", "--config", str(path)])
    captured = capsys.readouterr()
    assert status == 2 and captured.out == "", captured.out
    return refusal_line(captured.err)


def serve_refusal(path: Path) -> str:
    """serve's one line: the real process exits 2 before serving."""
    done = subprocess.run([ONEWINDOW, "serve", "--config", str(path)], capture_output=True, text=True, timeout=90)
    assert done.returncode == 2 and "serving" not in done.stdout, done.stdout + done.stderr
    return refusal_line(done.stderr)


def _missing_base_url(tmp_path: Path, district: tuple[Path, Path]) -> Path:
    return without_line(district_file(tmp_path, district), f'base_url = "{NOBODY}"')  # the first: tax


CASES: dict[str, tuple[Any, str]] = {
    "missing base_url": (
        _missing_base_url,
        "agencies.tax.base_url: is required: the address of the agency's system on the extranet "
        "([sandboxes] start = true routes every agency to its sandbox instead, for development)",
    ),
    "agency code nobody installs": (
        lambda tmp, d: district_file(tmp, d, agencies={"taxx": {"base_url": NOBODY}}),
        "agencies.taxx: no installed agency has this code (did you mean agencies.tax?)",
    ),
    "caller item pattern matching nothing": (
        lambda tmp, d: add_caller(district_file(tmp, d), '["tax.paymnt-record", "social_security.*"]'),
        "callers[6].items: 'tax.paymnt-record' matches no installed item (did you mean tax.payment-record?)",
    ),
    "caller pattern of a disabled plugin": (
        lambda tmp, d: add_caller(district_file(tmp, d, plugins={"disabled": ["property"]}), '["property.*"]'),
        "callers[6].items: 'property.*' matches no installed item (plugin 'property' is disabled in [plugins])",
    ),
    "disabled plugin typo": (
        lambda tmp, d: district_file(tmp, d, plugins={"disabled": ["proprety"]}),
        "plugins.disabled: 'proprety' is no installed plugin (did you mean property?)",
    ),
    "item timeout of no item": (
        lambda tmp, d: with_text(district_file(tmp, d), '[agencies.tax.item_timeouts]\n"tax.paymnt-record" = 30\n'),
        "agencies.tax.item_timeouts: 'tax.paymnt-record' is no item of agency tax (did you mean tax.payment-record?)",
    ),
    "agency not named": (
        lambda tmp, d: without_line(district_file(tmp, d), 'name_zh = "国家税务总局淄博市张店区税务局"'),
        "agencies.tax.name_zh: is required: the district names every agency it runs, and the agency's sealed "
        "results print these names. A plugin for an agency this district does not use can be switched off: "
        '[plugins] disabled = ["<name>"]',
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_check_config_and_serve_refuse_a_configuration_mistake_with_the_same_line(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str], case: str
) -> None:
    make, message = CASES[case]
    path = make(tmp_path, district)
    assert check_config(path, capsys) == f"onewindow: {message}"
    assert serve_refusal(path) == f"onewindow: {message}"


def test_the_unchanged_district_file_passes_check_config_telling_warnings_on_stderr(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The cases above fail for their one change, not for anything else in the file."""
    assert main(["check-config", "--config", str(district_file(tmp_path, district))]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("# configuration OK") and "on the first start" not in captured.out
    json.loads(captured.out[captured.out.index("{") :])  # stdout is the configuration, nothing else
    root_key = district[0] / "root" / "root-key.pem"  # the test district keeps its root key: serve warns
    assert captured.err.startswith(f"onewindow: warning: pki.root_key_on_gateway_host: path: {root_key}; advice: ")
    assert captured.err.count("\n") == 1


# -- what the gateway opens: seal keys, audit key, store -------------------------------------------------------


def test_an_unreadable_seal_passphrase_stops_check_config_and_serve(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    unreadable = tmp_path / "passphrase-dir"
    unreadable.mkdir()  # a directory: no user, root included, reads a passphrase from it
    path = district_file(tmp_path, district, pki={"passphrase_file": str(unreadable)})
    message = f"onewindow: cannot read pki.passphrase_file {unreadable}: Is a directory"
    assert check_config(path, capsys) == message
    assert serve_refusal(path) == message


def test_a_wrong_seal_passphrase_stops_check_config_and_serve(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong-passphrase"
    wrong.write_text("not-the-district-passphrase\n", encoding="utf-8")
    path = district_file(tmp_path, district, pki={"passphrase_file": str(wrong)})
    line = check_config(path, capsys)
    assert re.fullmatch(r"onewindow: cannot open the key of seal 370303-\w+-\d+: .+", line), line
    assert serve_refusal(path) == line


def test_a_missing_audit_key_stops_check_config_and_serve(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "nowhere" / "audit-key.pem"
    path = district_file(tmp_path, district, audit={"key_file": str(key)})
    message = (
        f"onewindow: no district audit key at {key}: create it with 'onewindow audit init-key' "
        "(or set [audit] enabled = false)"
    )
    assert check_config(path, capsys) == message
    assert serve_refusal(path) == message
    assert not key.parent.exists()  # nothing was created on the way


def test_a_missing_seal_registry_stops_check_config_and_serve(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "pki"
    empty.mkdir()
    path = district_file(tmp_path, district, pki={"dir": str(empty)})
    line = check_config(path, capsys)
    assert line.startswith(f"onewindow: no district seal registry at {empty}: create one with")
    assert serve_refusal(path) == line


def test_an_unreachable_postgresql_store_stops_check_config_and_serve(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    path = district_file(tmp_path, district, store={"url": "postgresql://onewindow@127.0.0.1:1/onewindow"})
    line = check_config(path, capsys)
    assert line.startswith("onewindow: cannot connect to PostgreSQL: ")
    assert (serve_refusal(path)).startswith("onewindow: cannot connect to PostgreSQL: ")


def test_a_sqlite_store_that_cannot_be_created_stops_check_config_and_serve(
    tmp_path: Path, district: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    database = tmp_path / "a-file" / "onewindow.db"
    path = district_file(tmp_path, district, store={"url": f"sqlite:///{database}"})
    assert check_config(path, capsys).startswith(f"onewindow: cannot create the SQLite database {database}: ")
    assert (serve_refusal(path)).startswith(f"onewindow: cannot create the SQLite database {database}: ")


# -- the sample district's first start ---------------------------------------------------------------------


def test_check_config_creates_nothing_on_the_sample_districts_first_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "# on the first start: the sample district's seal registry is created in var/pki" in out
    assert "# on the first start: the sample district's audit key is created at var/pki/audit/audit-key.pem" in out
    assert list(tmp_path.iterdir()) == []


def test_the_start_up_checks_accept_what_they_opened_and_close_it(district: tuple[Path, Path], tmp_path) -> None:
    path = district_file(tmp_path, district)
    checked = check_start(load_settings(path, environ={}), plugin_manager(), creating=False)
    try:
        assert set(checked.registry.agencies) == set(AGENCIES)
        assert checked.sealer is not None and checked.audit_signer is not None and checked.first_start == []
    finally:
        checked.close()


# -- the agency's identity is the district's ------------------------------------------------------------------


class SelfNamed:
    """A plugin that writes its agency's names into itself instead of taking the district's."""

    class Adapter:
        code = "selfnamed"
        identity = identity_of("selfnamed", "淄博市张店区自命名局", "Zhangdian self-named bureau")

        def __init__(self, directory: Path) -> None:
            self.catalogue = directory / "selfnamed.toml"
            self.catalogue.write_text(CATALOGUE.replace("scripted.", "selfnamed."), encoding="utf-8")

        async def submit(self, request, call): ...
        async def poll(self, ticket, call): ...
        async def health(self, call): ...

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @hookimpl
    def onewindow_agencies(self, config):
        return [self.Adapter(self.directory)]


def test_a_plugin_that_names_its_agency_itself_is_refused_at_start_up(district: tuple[Path, Path], tmp_path) -> None:
    pm = plugin_manager(extra=(SelfNamed(tmp_path),))
    settings = configuring_test_agencies(load_settings(district_file(tmp_path, district), environ={}), pm)
    check_start(settings, pm, creating=False).close()  # named as the district names it: starts
    named = dataclasses.replace(settings.agency("selfnamed"), name_zh="示范区自命名局")
    settings = dataclasses.replace(settings, agencies={**settings.agencies, "selfnamed": named})
    with pytest.raises(PluginError) as caught:
        check_start(settings, pm, creating=False)
    assert re.match(
        r"plugin '\w+': agency 'selfnamed' names itself '淄博市张店区自命名局', not as \[agencies.selfnamed\] "
        r"does \('示范区自命名局'\): an agency's identity is the district's; take it from "
        r"config.agency_identity\('selfnamed'\)",
        str(caught.value),
    ), str(caught.value)


def test_an_adapter_without_an_identity_is_refused_naming_the_plugin(district: tuple[Path, Path], tmp_path) -> None:
    class Nameless(SelfNamed.Adapter):
        identity = None

    class Plugin:
        @hookimpl
        def onewindow_agencies(self, config):
            return [Nameless(tmp_path)]

    settings = load_settings(district_file(tmp_path, district), environ={})
    with pytest.raises(PluginError, match=r"^plugin '\w+': agency adapter .* lacks 'identity'$"):
        check_start(settings, plugin_manager(extra=(Plugin(),)), creating=False)


def test_the_catalogue_commands_list_an_agency_the_district_has_not_named_yet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "district.toml"
    path.write_text("[sandboxes]\nstart = false\n", encoding="utf-8")  # names no agency
    assert main(["catalog", "list", "--agency", "tax", "--config", str(path)]) == 0
    assert "tax.payment-record" in capsys.readouterr().out
    assert main(["check-config", "--config", str(path)]) == 2  # but it cannot run
    assert "agencies.tax.{name_zh, name_en, authority_zh, authority_en, credit_code}: are required" in (
        capsys.readouterr().err
    )


def test_an_agency_code_set_only_by_a_variable_names_the_variable(
    tmp_path: Path, district: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ONEWINDOW_AGENCIES__TAXX__BASE_URL", "https://tax.extranet.example/")
    assert check_config(district_file(tmp_path, district), capsys) == (
        "onewindow: agencies.taxx: no installed agency has this code (did you mean agencies.tax?) "
        "(set by ONEWINDOW_AGENCIES__TAXX__BASE_URL)"
    )
