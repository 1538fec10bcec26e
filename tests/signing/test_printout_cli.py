"""``onewindow render`` and ``onewindow verify FILE.pdf``: offline from the sealed JSON, one line when refused."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from signing.cli.main import main
from signing.registry.seal_registry import SealRegistry
from tests.printouts import sealed_result

URL = "https://zwfw.zhangdian.example.cn"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def files(tmp_path: Path, seal_registry: SealRegistry, office: tuple[str, str]) -> dict[str, Any]:
    sealed = sealed_result(seal_registry, office)
    (tmp_path / "result.json").write_text(json.dumps(sealed, ensure_ascii=False), encoding="utf-8")
    bundle = seal_registry.export_trust_bundle()
    (tmp_path / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    return {"pki": str(seal_registry.directory), "root": bundle["root_sha256"], "sealed": sealed, "dir": tmp_path}


def page_text(pdf: bytes) -> str:
    import pypdf

    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_render_prints_a_sealed_result_offline_and_verify_judges_the_pdf_and_its_json(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    d = files["dir"]
    code, out, err = run(
        capsys, "render", str(d / "result.json"), "--out", str(d / "r.pdf"), "--public-url", URL, "--pki", files["pki"]
    )
    assert code == 0, err
    assert "generic layout" in out and "PAdES-B-B" in out and files["sealed"]["seal"]["number"] in out
    code, out, err = run(
        capsys, "verify", str(d / "r.pdf"), "--trust", str(d / "bundle.json"), "--root-fingerprint", files["root"]
    )
    assert code == 0, out + err
    assert out.startswith("打印件 PDF printout") and out.count("TOTAL_PASSED") == 2 and "所附盖章 JSON 原件" in out
    code, out, _ = run(
        capsys,
        "verify",
        str(d / "r.pdf"),
        "--trust",
        str(d / "bundle.json"),
        "--root-fingerprint",
        files["root"],
        "--json",
    )
    answer = json.loads(out)
    assert answer["report"]["indication"] == answer["document_report"]["indication"] == "TOTAL_PASSED"
    pdf = (d / "r.pdf").read_bytes()
    at = pdf.index(b"stream", pdf.index(b"/Contents")) + 60
    (d / "changed.pdf").write_bytes(pdf[:at] + bytes([pdf[at] ^ 0x02]) + pdf[at + 1 :])
    code, out, _ = run(
        capsys, "verify", str(d / "changed.pdf"), "--trust", str(d / "bundle.json"), "--root-fingerprint", files["root"]
    )
    assert code == 1 and "HASH_FAILURE" in out
    code, _, err = run(capsys, "verify", str(d / "r.pdf"), "--trust", str(d / "bundle.json"))
    assert code == 1 and "not genuine without a pin" in err  # as for JSON: nothing is genuine unpinned


def test_render_takes_a_layout_file_in_toml(files: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    d = files["dir"]
    (d / "layout.toml").write_text(
        '[printout]\ntitle = "中华人民共和国税收完税证明"\n'
        'fields = [{ key = "total", label = "实缴金额合计（元）" }]\n',
        encoding="utf-8",
    )
    code, _, err = run(
        capsys,
        "render",
        str(d / "result.json"),
        "--out",
        str(d / "r.pdf"),
        "--public-url",
        URL,
        "--pki",
        files["pki"],
        "--layout",
        str(d / "layout.toml"),
    )
    assert code == 0, err
    assert "中华人民共和国税收完税证明" in page_text((d / "r.pdf").read_bytes())


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda d: None, "cannot read"),
        (lambda d: (d / "missing.json").write_text("{not json"), "is not a sealed result"),
        (lambda d: (d / "missing.json").write_text('{"item": "tax.payment-record"}'), "no seal block"),
    ],
)
def test_render_refuses_what_is_no_sealed_result_in_one_line(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str], prepare: Any, message: str
) -> None:
    d = files["dir"]
    prepare(d)
    code, _, err = run(
        capsys, "render", str(d / "missing.json"), "--out", str(d / "x.pdf"), "--public-url", URL, "--pki", files["pki"]
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (d / "x.pdf").exists()


def test_render_refuses_a_result_whose_seal_fails_and_writes_nothing(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    d = files["dir"]
    changed = {**files["sealed"], "content": {**files["sealed"]["content"], "total": "0.01"}}
    (d / "changed.json").write_text(json.dumps(changed, ensure_ascii=False), encoding="utf-8")
    code, _, err = run(
        capsys, "render", str(d / "changed.json"), "--out", str(d / "x.pdf"), "--public-url", URL, "--pki", files["pki"]
    )
    assert code == 2 and "HASH_FAILURE" in err and not (d / "x.pdf").exists()


def test_the_gateways_onewindow_renders_with_the_items_catalogue_layout(
    files: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli.main import main as gateway_main

    d = files["dir"]
    code = gateway_main(
        ["render", str(d / "result.json"), "--out", str(d / "r.pdf"), "--public-url", URL, "--pki", files["pki"]]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "layout 中华人民共和国税收完税证明" in out  # the tax plugin's [items.printout]
    assert "完税明细" in page_text((d / "r.pdf").read_bytes())
