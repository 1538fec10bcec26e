"""What the printout tests share: real result documents, poppler's independent checks, pictures, a real TSA.

* :func:`pdfsig` -- poppler's ``pdfsig`` (NSS, not pyHanko) judging a printout against the district root alone;
* :func:`page_image` -- ``pdftoppm`` renders a page to PNG, read with Pillow;
* :func:`check_picture` -- the screenshot test: the title's Chinese characters are real glyphs, the stamp is red;
* :class:`TimeStampingAuthority` -- an RFC 3161 authority over HTTP on loopback (pyHanko signs its tokens).

Without poppler-utils or libnss3-tools the tests that need them skip, and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from signing.printout.layout import Layout, parse_layout
from signing.printout.render import PrintoutOptions, render_printout
from signing.registry.seal_registry import SealRegistry
from tests.conftest import IN_CI

TOWN = ("370303105000", "房镇镇便民服务中心")
DPI = 100


def needs(*tools: str) -> None:
    """Skip (or, under CI=true, fail) unless every tool is on PATH (``make system-deps`` installs them)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (make system-deps: poppler-utils, libnss3-tools)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def result_document(item: str, name: tuple[str, str], content: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A result document as the gateway seals it (``gateway.delivery.results.result_document``'s shape)."""
    return {
        "document_type": "onewindow.result.v1",
        "request_id": extra.pop("request_id", "01M947MVC2D8GHF3HVZQ6SX073"),
        "item": item,
        "item_name": {"zh": name[0], "en": name[1]},
        "agency": {
            "code": item.split(".")[0],
            "name_zh": "国家税务总局淄博市张店区税务局",
            "name_en": "Zhangdian District Tax Bureau",
            "authority_zh": "国家税务总局淄博市张店区税务局",
            "authority_en": "Zhangdian District Tax Bureau",
            "credit_code": "11370303MB0A01234Q",
        },
        "office": {"code": extra.pop("office", TOWN[0]), "name": extra.pop("office_name", TOWN[1])},
        "applicant": {"kind": "person", "name": "张伟", "id_number": "370303199001011239"},
        "agency_reference": "(2026)鲁税完证1098015号",
        "issued_at": extra.pop("issued_at", "2026-01-10T08:30:00+00:00"),
        "content": content,
        **extra,
    }


PAYMENT_RECORD_CONTENT = {
    "certificate_no": "(2026)鲁税完证1098015号",
    "records": [
        {
            "tax_type": "车船税",
            "period": f"2025-{m:02d}",
            "amount": f"{300 + m * 17.5:.2f}",
            "voucher_no": f"33703621098015{m:02d}",
        }
        for m in range(1, 13)
    ],
    "total": "4965.00",
}


ITEM = "tax.payment-record"
NAME = ("开具个人完税证明（税收完税证明）", "Tax payment record")
OPTIONS = PrintoutOptions(public_url="https://zwfw.zhangdian.example.cn")
LAYOUT = parse_layout(
    {
        "title": "中华人民共和国税收完税证明",
        "fields": [{"key": "certificate_no", "label": "证明编号"}, {"key": "total", "label": "实缴金额合计（元）"}],
        "tables": [
            {
                "key": "records",
                "title": "完税明细",
                "columns": [
                    {"key": "tax_type", "label": "税种"},
                    {"key": "period", "label": "税款所属期"},
                    {"key": "amount", "label": "实缴金额（元）"},
                ],
            }
        ],
    }
)


def sealed_result(registry: SealRegistry, office: tuple[str, str], **changes: Any) -> dict[str, Any]:
    """A tax payment record of ``office``, sealed a day after the sample district was made."""
    from signing.sealing import seal_document
    from tests.signing.conftest import ISSUED

    seal = registry.seal_for(office[0], "service_centre", ITEM)
    assert seal is not None
    document = result_document(
        ITEM, NAME, changes.pop("content", PAYMENT_RECORD_CONTENT), office=office[0], office_name=office[1], **changes
    )
    return seal_document(
        document,
        registry.signer_for(seal),
        seal,
        item=ITEM,
        request_id=document["request_id"],
        signed_at=ISSUED + timedelta(days=1),
    )


def printout(registry: SealRegistry, document: dict[str, Any], layout: Layout = LAYOUT, **options: Any) -> bytes:
    """The signed printout of ``document``, with its seal from ``registry`` (``options``: of PrintoutOptions)."""
    seal = registry.get(document["seal"]["number"])
    opts = PrintoutOptions(**{"public_url": OPTIONS.public_url, **options})
    return render_printout(document, registry.signer_for(seal), seal, registry.trust_view(), opts, layout=layout)


def pdfsig(pdf: bytes, root_pem: bytes | None, tmp: Path) -> str:
    """poppler's verdict on the printout, with an NSS trust store holding only ``root_pem`` (or nothing)."""
    needs("pdfsig", "certutil")
    store = tmp / "nss"
    store.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{store}", "--empty-password"], check=True, capture_output=True)
    if root_pem is not None:
        (tmp / "root.pem").write_bytes(root_pem)
        subprocess.run(
            [
                "certutil",
                "-A",
                "-d",
                f"sql:{store}",
                "-n",
                "district-root",
                "-t",
                "CT,C,C",
                "-a",
                "-i",
                str(tmp / "root.pem"),
            ],
            check=True,
            capture_output=True,
        )
    (tmp / "printout.pdf").write_bytes(pdf)
    done = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{store}", str(tmp / "printout.pdf")], capture_output=True, text=True, timeout=60
    )
    return done.stdout + done.stderr


def page_image(pdf: bytes, page: int = 1, dpi: int = DPI) -> Any:
    """Page ``page`` (1-based) rendered by ``pdftoppm`` as a Pillow RGB image."""
    needs("pdftoppm")
    from PIL import Image

    png = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    return Image.open(io.BytesIO(png)).convert("RGB")


def _inked_rows(image: Any, top: int, bottom: int) -> list[int]:
    pixels = image.load()
    return [y for y in range(top, bottom) if any(sum(pixels[x, y]) < 300 for x in range(0, image.width, 2))]


def title_cells(image: Any, count: int, dpi: int) -> list[Any]:
    """The first line of ink from the top (the title), cut into its ``count`` full-width character cells.

    Each cell is one em of the title font wide; the ink starts and ends a
    side bearing inside the first and last cell, split evenly.
    """
    from signing.printout.page import TITLE_SIZE

    rows = _inked_rows(image, 0, image.height // 4)
    assert rows, "no title ink at the top of the page"
    first, last = rows[0], rows[0]
    while last + 1 in rows:
        last += 1
    pixels = image.load()
    columns = [x for x in range(image.width) if any(sum(pixels[x, y]) < 300 for y in range(first, last + 1))]
    left, right = columns[0], columns[-1] + 1
    width = TITLE_SIZE * dpi / 72
    left -= (width * count - (right - left)) / 2
    margin = width * 0.04  # a neighbour's side bearing must not reach into the cell
    return [
        image.crop((round(left + i * width + margin), first, round(left + (i + 1) * width - margin), last + 1))
        for i in range(count)
    ]


def _glyph(cell: Any) -> Any:
    """The cell cut to its ink, in grey: where in the cell a glyph sits depends on rounding, not on the glyph."""
    from PIL import ImageOps

    grey = cell.convert("L")
    box = ImageOps.invert(grey).point(lambda v: 255 if v > 60 else 0).getbbox()
    return grey.crop(box) if box else grey


def _difference(a: Any, b: Any) -> float:
    from PIL import ImageChops, ImageStat

    a, b = _glyph(a), _glyph(b)
    b = b.resize(a.size)
    diff = ImageChops.difference(a, b)
    return float(ImageStat.Stat(diff).mean[0]) / 255


def red_pixels(image: Any, box: tuple[float, float, float, float] | None = None) -> int:
    """How many stamp-red pixels lie in ``box`` (PDF points, origin lower left) or on the whole page."""
    if box is not None:
        scale = DPI / 72
        x1, y1, x2, y2 = box
        image = image.crop(
            (round(x1 * scale), round(image.height - y2 * scale), round(x2 * scale), round(image.height - y1 * scale))
        )
    from PIL import ImageChops

    r, g, b = image.split()
    red = ImageChops.multiply(r.point(lambda v: 255 if v > 170 else 0), g.point(lambda v: 255 if v < 110 else 0))
    return int(ImageChops.multiply(red, b.point(lambda v: 255 if v < 110 else 0)).histogram()[255])


def stamp_box(pdf: bytes) -> tuple[tuple[float, float, float, float], int]:
    """The signature field's rectangle (PDF points) and its page (1-based): where the stamp is drawn."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_regular_signatures
    field = signature.sig_field
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    pages = [ref.get_object() for ref in reader.root["/Pages"]["/Kids"]]
    page = next(i for i, p in enumerate(pages, 1) if field.raw_get("/P").get_object() is p or field["/P"] == p)
    return (x1, y1, x2, y2), page


def check_picture(pdf: bytes, title: str, stamp_box: tuple[float, float, float, float], *, page: int = 1) -> None:
    """The screenshot test: the title's glyphs are real (no empty boxes) and the stamp is drawn red where it belongs.

    An empty box (.notdef) is the same picture for every character, so the
    title's cells must differ where the characters differ and match where
    they are the same character; and each cell has ink.
    """
    cells = title_cells(page_image(pdf, 1, dpi=4 * DPI), len(title), 4 * DPI)
    for i, a in enumerate(title):
        assert cells[i].convert("L").getextrema()[0] < 128, f"no ink for {a!r}"
        for j in range(i + 1, len(title)):
            difference = _difference(cells[i], cells[j])
            if a == title[j]:
                assert difference < 0.1, f"{a!r} drawn differently at {i} and {j} ({difference:.3f})"
            else:
                assert difference > 0.15, f"{a!r} and {title[j]!r} look the same ({difference:.3f}): empty boxes?"
    image = page_image(pdf, page)
    inside, everywhere = red_pixels(image, stamp_box), red_pixels(image)
    assert inside > 1500, f"only {inside} red pixels where the stamp should be"
    assert inside >= 0.95 * everywhere, "red drawn outside the stamp"


class TimeStampingAuthority:
    """An RFC 3161 time-stamping authority over HTTP on 127.0.0.1 (its own CA; tokens signed by pyHanko)."""

    def __init__(self, tmp: Path) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.now(UTC) - timedelta(days=1)
        root_key = ec.generate_private_key(ec.SECP256R1())
        tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's token signer is RSA
        root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA Root")])
        tsa_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test Time-Stamping Authority")])
        self.root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(1)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(tsa_name)
            .issuer_name(root_name)
            .public_key(tsa_key.public_key())
            .serial_number(2)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        self.root_pem = self.root.public_bytes(serialization.Encoding.PEM)
        self.root_der = self.root.public_bytes(serialization.Encoding.DER)
        self._key_der = tsa_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self.requests = 0
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> TimeStampingAuthority:
        from signing.printout.libraries import require_pdf_libraries

        require_pdf_libraries()  # pyHanko imported once, quietly
        self._thread.start()
        self.url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=30)
        return self

    async def _start(self) -> str:
        from aiohttp import web
        from asn1crypto import keys, tsp
        from asn1crypto import x509 as asn1_x509
        from cryptography.hazmat.primitives import serialization
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        der = self.certificate.public_bytes(serialization.Encoding.DER)
        stamper = DummyTimeStamper(
            tsa_cert=asn1_x509.Certificate.load(der),
            tsa_key=keys.PrivateKeyInfo.load(self._key_der),
            certs_to_embed=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(self.root_der)]),
        )

        async def answer(request: web.Request) -> web.Response:
            self.requests += 1
            reply = await stamper.async_request_tsa_response(tsp.TimeStampReq.load(await request.read()))
            return web.Response(body=reply.dump(), content_type="application/timestamp-reply")

        app = web.Application()
        app.router.add_post("/tsa", answer)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/tsa"

    def __exit__(self, *_: Any) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
