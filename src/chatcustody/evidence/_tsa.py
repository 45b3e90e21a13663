"""RFC 3161 trusted timestamps over the package manifests.

When a TSA URL is configured (``CHATCUSTODY_TSA_URL``), the writer asks the TSA for a token
over the exact bytes of ``SHA256SUMS`` and of ``SM3SUMS`` (SHA-256 message imprint, a
nonce, the TSA certificate requested) and stores each full ``TimeStampResp`` DER as
``timestamps/<manifest>.tsr``; the CA certificate(s) the TSA chains to
(``CHATCUSTODY_TSA_CA_FILE``) are copied to ``timestamps/tsa-ca.pem``. Anyone can check a
token with ``openssl ts -verify -data SHA256SUMS -in timestamps/SHA256SUMS.tsr -CAfile
timestamps/tsa-ca.pem`` -- after checking that CA's fingerprint against one they trust.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from typing import Final

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from chatcustody.errors import UsageError

TSA_TIMEOUT_SECONDS: Final[float] = 30.0
_CONTENT_TYPE: Final[str] = "application/timestamp-query"


class TimestampError(ValueError):
    """A token is missing, malformed, or does not verify (the message says which)."""


def request_token(url: str, data: bytes, roots: list[x509.Certificate]) -> bytes:
    """Return a verified TimeStampResp (DER) over ``data`` from the TSA at ``url``."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"TSA URL {url!r} must start with http:// or https://")
    req = TimestampRequestBuilder().data(data).hash_algorithm(HashAlgorithm.SHA256).build()
    http = urllib.request.Request(
        url, data=req.as_bytes(), headers={"Content-Type": _CONTENT_TYPE}, method="POST"
    )
    try:
        with urllib.request.urlopen(http, timeout=TSA_TIMEOUT_SECONDS) as resp:  # noqa: S310
            body: bytes = resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise UsageError(f"the TSA at {url} did not answer: {exc}") from None
    try:
        answer = decode_timestamp_response(body)
    except ValueError as exc:
        raise UsageError(f"the TSA at {url} sent no timestamp response: {exc}") from None
    if answer.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise UsageError(f"the TSA at {url} refused: status {answer.status}")
    if answer.tst_info.nonce != req.nonce:
        raise UsageError(f"the TSA at {url} answered another request (nonce differs)")
    try:
        verify_token(body, data, roots)
    except TimestampError as exc:
        raise UsageError(f"the token from {url} does not verify: {exc}") from None
    return body


def load_roots(pem: bytes) -> list[x509.Certificate]:
    """Return the certificates of a PEM bundle (raises TimestampError when none)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(f"no certificate in the TSA CA file ({exc})") from None
    return list(certs)


def verify_token(token: bytes, data: bytes, roots: list[x509.Certificate]) -> str:
    """Check a TimeStampResp over ``data`` chains to ``roots``; return its time (ISO, UTC)."""
    try:
        answer = decode_timestamp_response(token)
    except ValueError as exc:
        raise TimestampError(f"not a timestamp response ({exc})") from None
    imprint = answer.tst_info.message_imprint.message
    expected = hashlib.sha256(data).digest()
    if not hmac.compare_digest(bytes(imprint), expected):
        raise TimestampError("the token's message imprint is not the SHA-256 of the manifest")
    if not roots:
        raise TimestampError("no TSA CA certificate to check the token against")
    builder = VerifierBuilder()
    for cert in roots:
        builder = builder.add_root_certificate(cert)
    try:
        builder.build().verify_message(answer, data)
    except (VerificationError, ValueError) as exc:
        raise TimestampError(f"signature or certificate chain does not verify ({exc})") from None
    return answer.tst_info.gen_time.isoformat()
