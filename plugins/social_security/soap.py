"""The SOAP 1.1 vocabulary of the bureau's public web service, and XML parsing that refuses DTDs.

Shared by the adapter and the sandbox because both speak the one WSDL:
namespaces, qualified names and the SOAPAction form. Parsing lives here so
both sides refuse the same things: defusedxml is not available, and a
message that declares a DTD (entities, external references) is either an
attack or a broken intermediary, never something the service sends.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
# The bureau's own namespace (SAMPLE: an invented URN, as the real WSDL is not public).
SI = "urn:zhangdian-hrss:si-public:1.0"
SERVICE_PATH = "services/SiPublicService"
CONTENT_TYPE = "text/xml; charset=utf-8"

for _prefix, _uri in (("soap", SOAP_ENV), ("wsse", WSSE), ("wsu", WSU), ("si", SI)):
    ET.register_namespace(_prefix, _uri)


class UnsafeXml(ValueError):
    """The message declares a DTD; it is refused before any entity is expanded."""


class _NoDoctypeBuilder(ET.TreeBuilder):
    """A tree builder that stops the parse at the first ``<!DOCTYPE``, in whatever encoding."""

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise UnsafeXml(f"document type declaration <!DOCTYPE {name}> refused")


def parse_xml(data: bytes) -> ET.Element:
    """Parse ``data``; raises :class:`UnsafeXml` for a DTD and ``ET.ParseError`` for broken XML."""
    parser = ET.XMLParser(target=_NoDoctypeBuilder())
    parser.feed(data)
    return parser.close()


def qn(namespace: str, local: str) -> str:
    """The ElementTree name ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


def si(local: str) -> str:
    """A name in the bureau's namespace."""
    return qn(SI, local)


def local_name(tag: str) -> str:
    """``local`` from ``{namespace}local``."""
    return tag.rsplit("}", 1)[-1]


def soap_action(operation: str) -> str:
    """The quoted SOAPAction header value naming ``operation``."""
    return f'"{SI}#{operation}"'


def add(parent: ET.Element, local: str, text: str | None = None) -> ET.Element:
    """Append a child in the bureau's namespace, with optional text."""
    child = ET.SubElement(parent, si(local))
    if text is not None:
        child.text = text
    return child


def to_bytes(envelope: ET.Element) -> bytes:
    """The envelope as UTF-8 with an XML declaration."""
    return ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
