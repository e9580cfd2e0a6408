"""Embed the switchboard processor component from Python.

Uses the ``wasmtime`` package's component API. The component imports
nothing, so the linker needs no WASI. Calls go through the strings-only
``process-json`` export: wasmtime-py copies a ``list<u8>`` one element at a
time, while a string crosses in one copy. Raw bytes stay exact: the body is
sent as UTF-8 text when it is valid UTF-8, and as base64 otherwise.

    from switchboard import Processor, SwitchboardError

    processor = Processor()  # target/switchboard.wasm
    config = {"vendors": {"varda": {"secrets": ["..."]}}}
    try:
        event = processor.process(headers, body, config, now=int(time.time()))
    except SwitchboardError as error:
        print(error.error_class, error.message)
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Optional, Tuple, Union

import wasmtime
from wasmtime import component

__all__ = ["ConfigError", "Processor", "SwitchboardError", "default_component"]

PROCESSOR = "switchboard:webhooks/processor@0.2.0"

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


class SwitchboardError(Exception):
    """A refused delivery: ``error_class`` is one of ``unauthenticated``,
    ``malformed``, ``unknown-vendor``, ``too-large`` or ``internal``; or
    ``invalid-config`` (raised as :class:`ConfigError`)."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(f"{error_class}: {message}")
        self.error_class = error_class
        self.message = message


class ConfigError(SwitchboardError):
    """A configuration that cannot be used (an empty or undecodable secret,
    an unknown vendor, scheme or key): the operator's mistake, not the
    delivery's. The message names the key and never contains a value."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid-config", message)


def _raise(error_class: str, message: str) -> None:
    if error_class == "invalid-config":
        raise ConfigError(message)
    raise SwitchboardError(error_class, message)


def default_component() -> Path:
    """``SWITCHBOARD_COMPONENT``, else the component ``make build`` produced."""
    explicit = os.environ.get("SWITCHBOARD_COMPONENT")
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parents[2] / "target" / "switchboard.wasm"


class Processor:
    """One compiled component and one live instance, reused across calls and
    replaced after a trap."""

    def __init__(self, component_path: Optional[Union[str, Path]] = None) -> None:
        self._engine = wasmtime.Engine()
        path = Path(component_path) if component_path else default_component()
        self._component = component.Component.from_file(self._engine, str(path))
        self._instantiate()

    def _instantiate(self) -> None:
        self._store = wasmtime.Store(self._engine)
        instance = component.Linker(self._engine).instantiate(self._store, self._component)
        processor = instance.get_export_index(self._store, PROCESSOR)
        index = instance.get_export_index(self._store, "process-json", processor)
        self._process_json = instance.get_func(self._store, index)
        index = instance.get_export_index(self._store, "check-config-json", processor)
        self._check_config_json = instance.get_func(self._store, index)

    def check_config(self, config: Union[Mapping, str]) -> None:
        """Validates a configuration without processing anything: call it
        when the configuration is loaded. Raises :class:`ConfigError`."""
        config_json = _config_json(config)
        try:
            result = self._check_config_json(self._store, config_json)
            self._check_config_json.post_return(self._store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
            self._instantiate()
            raise SwitchboardError("internal", f"the component failed: {trap}") from trap
        # wasmtime-py gives `result<_, string>` as None, or the error's text.
        if result is not None:
            raise ConfigError(result)

    def process(
        self,
        headers: Headers,
        body: bytes,
        config: Union[Mapping, str],
        now: int,
        vendor: Optional[str] = None,
    ) -> dict:
        """Verifies and normalizes one delivery; returns the CloudEvent as a
        dict or raises ``SwitchboardError``. ``config`` is the JSON
        configuration (a dict, or its text); ``now`` is unix seconds."""
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"body must be bytes (the raw body as received), not {type(body).__name__}")
        body = bytes(body)
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        request = {"headers": pairs}
        try:
            request["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            request["body_base64"] = base64.b64encode(body).decode("ascii")
        answer = json.loads(
            self.process_json(json.dumps(request), vendor or "", _config_json(config), now)
        )
        if "specversion" not in answer:
            _raise(answer["error"], answer["message"])
        return answer

    def process_json(self, request_json: str, vendor: str, config_json: str, now: int) -> str:
        """The component's ``process-json`` as it is: JSON text in and out.
        A trap raises ``SwitchboardError('internal', ...)``."""
        try:
            result = self._process_json(self._store, request_json, vendor, config_json, now)
            self._process_json.post_return(self._store)
            return result
        except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
            self._instantiate()
            raise SwitchboardError("internal", f"the component failed: {trap}") from trap


def _config_json(config: Union[Mapping, str]) -> str:
    if isinstance(config, str):
        return config
    if isinstance(config, Mapping):
        return json.dumps(config)
    raise TypeError(f"config must be a mapping or JSON text, not {type(config).__name__}")
