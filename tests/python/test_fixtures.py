"""Every fixture in fixtures/ through the component from Python (wasmtime-py),
checked against the fixture's expectation exactly as the Rust suites do."""

import base64
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

from switchboard import SwitchboardError  # the installed package

FIXTURES = ROOT / "fixtures"


def load_all():
    """Every case; any file under fixtures/ that is not a .json case fails."""
    files = sorted(p for p in FIXTURES.rglob("*") if p.is_file())
    assert files, f"no fixtures in {FIXTURES}"
    cases = []
    for path in files:
        name = str(path.relative_to(FIXTURES))
        assert name.endswith(".json"), f"fixtures/{name} is not a case"
        case = json.loads(path.read_text(encoding="utf-8"))
        request = case["request"]
        if "body" in request:
            body = request["body"].encode("utf-8")
        else:
            body = base64.b64decode(request["body_base64"])
        cases.append(pytest.param(case, body, id=name))
    return cases


def secrets(config):
    return [s for v in config.get("vendors", {}).values() for s in v.get("secrets", []) if s.strip()]


@pytest.mark.parametrize("case,body", load_all())
def test_fixture(processor, case, body):
    headers = [tuple(h) for h in case["request"]["headers"]]
    expect = case["expect"]
    try:
        event = processor.process(headers, body, case["config"], case["now"], case.get("vendor"))
        outcome, shown = ("event", event), json.dumps(event, ensure_ascii=False)
    except SwitchboardError as error:
        outcome, shown = ("error", error), str(error)
    for secret in secrets(case["config"]):
        assert secret not in shown, "a secret leaked into the output"
    if "event" in expect:
        assert outcome[0] == "event", f"expected an event, got {shown}"
        assert outcome[1] == expect["event"]
    else:
        assert outcome[0] == "error", f"expected {expect['error']}, got the event {shown}"
        assert (outcome[1].kind, outcome[1].reason) == (expect["error"], expect["reason"])
        assert expect["message"] in outcome[1].message


def test_non_utf8_bodies_cross_exactly(processor):
    """A body that is not UTF-8 is sent as base64 and verified over its bytes."""
    import hashlib
    import hmac

    body = b'{"event":"contact.created","data":{"id":1,"name":"\xff"}}'
    signature = hmac.new(b"s", b"100." + body, hashlib.sha256).hexdigest()
    with pytest.raises(SwitchboardError) as refused:
        processor.process([("X-Varda-Signature", f"t=100,v1={signature}")], body,
                          {"vendors": {"varda": {"secrets": ["s"]}}}, 100)
    # Verified (else unauthenticated), then refused as JSON that is not UTF-8.
    assert (refused.value.kind, refused.value.reason) == ("malformed", "not-json")


def test_a_configuration_error_is_a_config_error_at_load_and_per_call(processor):
    from switchboard import ConfigError

    bad = {"vendors": {"varda": {"secrets": ["hunter2", ""]}}}
    with pytest.raises(ConfigError) as raised:
        processor.check_config(bad)
    assert (raised.value.kind, raised.value.reason) == ("invalid-config", "invalid-config")
    assert raised.value.error_class == "invalid-config", "the name before 0.3.0 still works"
    assert "secret 2 of varda" in raised.value.message
    assert "hunter2" not in str(raised.value)
    with pytest.raises(ConfigError):
        processor.check_config({"vendors": {"varda": {"secrets": "hunter2"}}})
    processor.check_config({"vendors": {"varda": {"secrets": ["s"]}}})
    with pytest.raises(ConfigError):
        processor.process([], b"{}", {"vendors": {"vrada": {}}}, 0)


def test_wrong_argument_types_are_type_errors(processor):
    with pytest.raises(TypeError):
        processor.process([], "{}", {"vendors": {}}, 0)
    with pytest.raises(TypeError):
        processor.process([], b"{}", 42, 0)


def test_the_installed_package_carries_its_component():
    """`make test-python` runs this suite against the wheel installed into a
    fresh virtual environment, not the source tree: the module and the
    component it loads are the installed package's."""
    import switchboard

    module = Path(switchboard.__file__).resolve()
    assert ROOT / "host" / "python" not in module.parents, module
    assert switchboard.default_component() == module.parent / "switchboard.wasm"
    assert switchboard.default_component().stat().st_size > 100_000
