"""Standard Webhooks v1a (ed25519) against an independent implementation:
Python's `cryptography` verifies what `switchboard sign` produces with a
`switchboard keygen` key, and switchboard verifies what `cryptography`
signs (also in the committed fixtures under fixtures/standard-webhooks/v1a/,
which tests/python/make_v1a_fixtures.py wrote)."""

import base64
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]

from switchboard import SwitchboardError  # the installed package

CLI = ROOT / "target" / "release" / "switchboard"
BODY = b'{"event":"conversation.created","organization_id":"org_1","data":{"id":"c1"}}'


def run(*args: str, stdin: bytes = b"") -> str:
    done = subprocess.run([str(CLI), *args], input=stdin, capture_output=True, check=True)
    return done.stdout.decode()


def keygen() -> tuple[str, str]:
    pairs = dict(line.split("=", 1) for line in run("keygen").splitlines())
    return pairs["SIGNING_KEY"], pairs["PUBLIC_KEY"]


def test_switchboard_signatures_verify_in_cryptography():
    signing, public = keygen()
    assert signing.startswith("whsk_") and public.startswith("whpk_")
    headers = dict(
        line.split(": ", 1)
        for line in run(
            "sign", "--vendor", "opencx", "--scheme", "opencx=standard-webhooks",
            "--secret", signing, "--timestamp", "1774463701", "--id", "msg_v1a",
            "--data-binary", "-", stdin=BODY,
        ).splitlines()
    )
    version, signature = headers["webhook-signature"].split(",", 1)
    assert version == "v1a"
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public.removeprefix("whpk_")))
    signed = b"msg_v1a.1774463701." + BODY
    key.verify(base64.b64decode(signature), signed)  # raises when it does not verify
    with pytest.raises(InvalidSignature):
        key.verify(base64.b64decode(signature), signed + b" ")
    # The seed is the key: cryptography derives the same public key from it.
    private = Ed25519PrivateKey.from_private_bytes(base64.b64decode(signing.removeprefix("whsk_")))
    derived = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert "whpk_" + base64.b64encode(derived).decode() == public


def test_cryptography_signatures_verify_in_switchboard(processor):
    private = Ed25519PrivateKey.generate()
    public = "whpk_" + base64.b64encode(
        private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    ).decode()
    signature = base64.b64encode(private.sign(b"msg_1.1774463701." + BODY)).decode()
    headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", "1774463701"),
        ("webhook-signature", f"v2,ignored v1a,{signature}"),
    ]
    config = {"vendors": {"opencx": {"secrets": [public], "scheme": "standard-webhooks"}}}
    event = processor.process(headers, BODY, config, 1774463701, vendor="opencx")
    assert event["verification"] == "standard-webhooks"
    assert event["id"] == "msg_1"
    with pytest.raises(SwitchboardError) as refused:
        processor.process(headers, BODY + b" ", config, 1774463701, vendor="opencx")
    assert refused.value.kind == "unauthenticated"
