"""Writes the Standard Webhooks v1a (ed25519) fixtures under
fixtures/standard-webhooks/v1a/ with an implementation independent of
switchboard's: Python's `cryptography` package signs every delivery.

Run once by hand (`.venv/bin/python tests/python/make_v1a_fixtures.py`); the
files are committed and every suite reads them. The keys are derived from
fixed seeds so that the files are reproducible; they protect nothing.
"""

import base64
import copy
import hashlib
import hmac
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "fixtures" / "opencx" / "standard-webhooks" / "valid.json"
OUT = ROOT / "fixtures" / "standard-webhooks" / "v1a"


def key(seed: bytes):
    private = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest())
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return private, "whpk_" + base64.b64encode(public).decode()


def header(case, name):
    return next(v for n, v in case["request"]["headers"] if n.lower() == name)


def with_signature(case, value):
    case["request"]["headers"] = [
        [n, value if n.lower() == "webhook-signature" else v] for n, v in case["request"]["headers"]
    ]


def main():
    source = json.loads(SOURCE.read_text())
    private, public = key(b"switchboard v1a fixture key")
    _, other_public = key(b"another sender's key")
    hmac_secret = source["config"]["vendors"]["opencx"]["secrets"][0]
    hmac_key = base64.b64decode(hmac_secret.removeprefix("whsec_"))
    webhook_id = header(source, "webhook-id")
    timestamp = header(source, "webhook-timestamp")
    body = source["request"]["body"].encode()
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    v1a = "v1a," + base64.b64encode(private.sign(signed)).decode()
    v1 = "v1," + base64.b64encode(hmac.new(hmac_key, signed, hashlib.sha256).digest()).decode()
    wrong_v1 = "v1," + base64.b64encode(b"\0" * 32).decode()
    wrong_v1a = "v1a," + base64.b64encode(private.sign(b"something else")).decode()

    def case(description, secrets, signature, expect=None, now=None, body_text=None):
        c = copy.deepcopy(source)
        c["description"] = description + " (signed by Python's `cryptography`: tests/python/make_v1a_fixtures.py)"
        c["config"]["vendors"]["opencx"]["secrets"] = secrets
        with_signature(c, signature)
        if expect is not None:
            c["expect"] = expect
        if now is not None:
            c["now"] = now
        if body_text is not None:
            c["request"]["body"] = body_text
        return c

    refused = lambda message: {"error": "unauthenticated", "message": message}
    cases = {
        "valid.json": case("A v1a delivery verified with its whpk_ public key", [public], v1a),
        "mixed-v1a-verifies.json": case(
            "v1 and v1a entries in one header, keys of both kinds: the v1 entry is wrong, the v1a one passes",
            [hmac_secret, public],
            f"{wrong_v1} {v1a}",
        ),
        "mixed-v1-verifies.json": case(
            "v1 and v1a entries in one header, keys of both kinds: the v1a entry is wrong, the v1 one passes",
            [public, hmac_secret],
            f"{wrong_v1a} {v1}",
        ),
        "wrong-public-key.json": case(
            "A v1a delivery checked against another sender's public key",
            [other_public],
            v1a,
            refused("no signature in webhook-signature matches"),
        ),
        "tampered.json": case(
            "A v1a signature over a body that was changed in transit",
            [public],
            v1a,
            refused("no signature in webhook-signature matches"),
            body_text=source["request"]["body"] + " ",
        ),
        "truncated.json": case(
            "A v1a signature cut to 63 bytes: it can verify nothing",
            [public],
            "v1a," + base64.b64encode(base64.b64decode(v1a[4:])[:63]).decode(),
            refused("no signature in webhook-signature matches"),
        ),
        "stale.json": case(
            "A valid v1a signature outside the replay window",
            [public],
            v1a,
            refused("older than the 300 s tolerance"),
            now=int(timestamp) + 301,
        ),
        "signing-key-configured.json": case(
            "A whsk_ signing key configured where only verification happens: refused at load",
            ["whsk_" + base64.b64encode(private.private_bytes_raw()).decode()],
            v1a,
            {"error": "invalid-config", "message": "it is a whsk_ signing key"},
        ),
        "short-public-key.json": case(
            "A whpk_ key that is not 32 bytes: refused at load",
            ["whpk_" + base64.b64encode(b"\1" * 31).decode()],
            v1a,
            {"error": "invalid-config", "message": "a whpk_ public key is 32 bytes"},
        ),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for name, c in cases.items():
        (OUT / name).write_text(json.dumps(c, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
