"""Configuration: layers, environment overrides, checks and redaction."""

import json
from pathlib import Path

import pytest

from gateway.cli.main import main
from gateway.config import load_settings
from gateway.config.view import redacted
from gateway.errors import ConfigError


def test_without_a_file_the_sample_district_is_used() -> None:
    settings = load_settings(environ={})
    assert settings.source == "embedded sample configuration"
    assert settings.sandboxes_start is True
    assert settings.office("370303105000").level == "town"
    assert {c.channel for c in settings.callers} >= {"window", "kiosk", "partner_outlet", "village_station"}


def test_an_operator_file_replaces_the_sample(tmp_path: Path) -> None:
    path = tmp_path / "prod.toml"
    path.write_text('[server]\nport = 9090\n[store]\nurl = "postgresql://db/onewindow"\n', encoding="utf-8")
    settings = load_settings(path, environ={})
    assert settings.port == 9090 and settings.store_url.startswith("postgresql:")
    assert settings.sandboxes_start is False and not settings.callers


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "ONEWINDOW_SERVER__PORT": "9191",
            "ONEWINDOW_AGENCIES__TAX__MAX_ATTEMPTS": "5",
            "ONEWINDOW_AGENCIES__TAX__SECRETS__APP_SECRET": "s3cret",
        }
    )
    assert settings.port == 9191
    assert settings.agency("tax").max_attempts == 5
    assert settings.agency("tax").secrets["app_secret"] == "s3cret"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[server]\nport = "eighty"\n', "server.port: expected int"),
        ("[server]\nport = 70000\n", "server.port: must be between"),
        ('[store]\nurl = "mysql://x"\n', "store.url"),
        ("[agencies.tax]\ntimeout = 3\n", "agencies.tax.timeout: unknown key"),
        ("[agencies.tax]\nread_timeout_s = -1\n", "agencies.tax.read_timeout_s: must be greater than zero"),
        ('[[offices]]\ncode = "3703"\nname = "x"\nlevel = "town"\n', "offices[0].code"),
        (
            '[[offices]]\ncode = "370303105000"\nname = "x"\nlevel = "town"\n'
            '[[callers]]\nid = "a"\noffice = "370303105000"\nchannel = "fax"\nitems = ["*"]\n'
            'api_key_sha256 = "' + "0" * 64 + '"\n',
            "callers[0].channel",
        ),
        ("[server\n", "not valid TOML"),
        ("[plugins]\ndisabled = [1]\n", "plugins.disabled: must be a list of plugin names"),
    ],
)
def test_a_bad_value_names_its_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path, environ={})
    assert message in str(info.value)


def test_redaction_hides_secrets_and_url_passwords() -> None:
    shown = redacted(
        {
            "agencies": {"tax": {"secrets": {"app_secret": "x", "app_key": "y"}, "base_url": "http://a"}},
            "store": {"url": "postgresql://user:pw@db/x"},
            "callers": [{"id": "a", "api_key_sha256": "abc", "callback_secret": "cb", "api_key": "k"}],
            "pki": {"passphrase_file": "/etc/onewindow/passphrase"},
            "audit": {"key_file": "/etc/onewindow/audit-key.pem", "payload_key_file": "/etc/onewindow/payload.key"},
        }
    )
    assert shown["agencies"]["tax"]["secrets"] == {"app_secret": "***", "app_key": "***"}
    assert shown["agencies"]["tax"]["base_url"] == "http://a"
    assert shown["store"]["url"] == "postgresql://user:***@db/x"
    assert shown["callers"][0] == {"id": "a", "api_key_sha256": "abc", "callback_secret": "***", "api_key": "***"}
    assert shown["pki"]["passphrase_file"] == "/etc/onewindow/passphrase"  # where the secret is, not the secret
    assert shown["audit"]["payload_key_file"] == "/etc/onewindow/payload.key"


def test_check_config_prints_the_redacted_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "sample-fangzhen-window-callback-secret" not in out


def test_check_config_prints_every_installed_agencys_effective_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "district.toml"
    path.write_text(
        '[agencies.tax]\nread_timeout_s = 25\nbase_url = "https://tax.extranet.example/api"\n'
        'name_zh = "示范区税务局"\nname_en = "Shifan Tax Bureau"\nauthority_zh = "示范区税务局"\n'
        'authority_en = "Shifan Tax Bureau"\ncredit_code = "11370399MB0B01234D"\n'
        '[agencies.tax.secrets]\napp_key = "k1"\napp_secret = "s1"\n'
        '[plugins]\ndisabled = ["social_security", "medical", "housing_fund", "property"]\n'
        f'[pki]\ndir = "{tmp_path}"\ncreate_sample_district = true\n[store]\nurl = "sqlite:///{tmp_path}/ow.db"\n',
        encoding="utf-8",
    )
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("{") :])
    tax = shown["agencies"]["tax"]
    assert tax["name_zh"] == "示范区税务局" and tax["credit_code"] == "11370399MB0B01234D"
    assert tax["read_timeout_s"] == 25 and tax["connect_timeout_s"] == 3.0 and tax["max_attempts"] == 3
    assert tax["breaker_failures"] == 5 and tax["secrets"] == {"app_key": "***", "app_secret": "***"}
    assert set(shown["agencies"]) == {"tax"}  # the disabled ones are not loaded
    assert "s1" not in out

    assert main(["check-config"]) == 0  # the sample: every agency on its defaults, routed to its sandbox
    shown = json.loads((out := capsys.readouterr().out)[out.index("{") :])
    assert set(shown["agencies"]) == {"tax", "social_security", "medical", "housing_fund", "property"}
    assert shown["agencies"]["property"]["base_url"] == "http://127.0.0.1:9105"
    assert shown["agencies"]["medical"]["total_timeout_s"] == 15.0
    assert shown["callers"][0]["api_key_sha256"] == "d9b1f52411c832add3241f2dfe95de24d68138b017aa1c553d924419adde6c03"
    assert shown["pki"]["passphrase_file"] == "var/sample-seal-passphrase"


def test_check_config_fails_with_one_line_on_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = -1\n", encoding="utf-8")
    assert main(["check-config", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("onewindow: server.port") and "\n" not in err
