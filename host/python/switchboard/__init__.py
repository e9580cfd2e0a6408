"""Embed the switchboard processor component from Python.

Uses the ``wasmtime`` package's component API. The component imports
nothing, so the linker needs no WASI. Deliveries go through the component's
``process-text``: the headers as pairs, the raw body as its own argument (its
UTF-8 text, which is the exact bytes; a body that is not UTF-8 goes through
``process-json`` as base64), the configuration as its JSON text (the
component reads and validates it once per instance while the text stays the
same), and the event back as its JSON document.

wasmtime-py's own ``Func.__call__`` rebuilds the function's type and
converts every value through Python objects on each call (about 45 µs for a
trivial call on the two-core machine). ``_FastCall`` calls the same
component function through the same package's bindings to wasmtime's C API
(``wasmtime._ffi``, pinned with ``wasmtime==50.0.1``), building only what
changes per delivery: a few µs.

    from switchboard import Processor, SwitchboardError

    processor = Processor()  # the component the package carries
    configured = processor.configure({"vendors": {"varda": {"secrets": ["..."]}}})
    try:
        event = configured.process(headers, body, now=int(time.time()))
    except SwitchboardError as error:
        print(error.kind, error.reason, error.message)
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
from pathlib import Path
from typing import Iterable, Mapping, Optional, Tuple, Union

import wasmtime
from wasmtime import _bindings, _ffi as ffi
from wasmtime import component

__all__ = ["ConfigError", "Configured", "Processor", "SwitchboardError", "default_component"]

PROCESSOR = "switchboard:webhooks/processor@0.4.0"

Headers = Union[Mapping[str, str], Iterable[Tuple[str, str]]]


class SwitchboardError(Exception):
    """A refused delivery. The same three names as the Node binding's
    ``SwitchboardError``: ``kind``, the class (``unauthenticated``,
    ``malformed``, ``unknown-vendor``, ``too-large`` or ``internal``; or
    ``invalid-config``, raised as :class:`ConfigError`); ``reason``, a stable
    code (``stale``, ``no-match``, ... the WIT ``error`` record lists them);
    ``message``, for people. ``str(error)`` is ``kind (reason): message``."""

    def __init__(self, kind: str, reason: str, message: str) -> None:
        super().__init__(f"{kind} ({reason}): {message}")
        self.kind = kind
        self.reason = reason
        self.message = message

    @property
    def error_class(self) -> str:
        """``kind``, by its name before 0.3.0."""
        return self.kind


class ConfigError(SwitchboardError):
    """A configuration that cannot be used (an empty or undecodable secret,
    an unknown vendor, scheme or key): the operator's mistake, not the
    delivery's. The message names the key and never contains a value."""

    def __init__(self, message: str) -> None:
        super().__init__("invalid-config", "invalid-config", message)


def _raise(kind: str, reason: str, message: str) -> None:
    if kind == "invalid-config":
        raise ConfigError(message)
    raise SwitchboardError(kind, reason, message)


def default_component() -> Path:
    """``SWITCHBOARD_COMPONENT``; else the component the installed package
    carries (``switchboard/switchboard.wasm`` in the wheel); else, run from
    the source tree, the component ``make build`` produced."""
    explicit = os.environ.get("SWITCHBOARD_COMPONENT")
    if explicit:
        return Path(explicit)
    here = Path(__file__).resolve().parent
    packaged = here / "switchboard.wasm"
    if packaged.exists():
        return packaged
    return here.parents[2] / "target" / "switchboard.wasm"


_VAL = ffi.wasmtime_component_val_t
_VALP = ctypes.POINTER(_VAL)
_STRING = ffi.WASMTIME_COMPONENT_STRING.value
_TUPLE = ffi.WASMTIME_COMPONENT_TUPLE.value
_LIST = ffi.WASMTIME_COMPONENT_LIST.value
_OPTION = ffi.WASMTIME_COMPONENT_OPTION.value
_S64 = ffi.WASMTIME_COMPONENT_S64.value
_BOOL = ffi.WASMTIME_COMPONENT_BOOL.value
# The C functions themselves, without wasmtime-py's Python wrappers.
_call = _bindings._wasmtime_component_func_call
_post_return = _bindings._wasmtime_component_func_post_return
_delete = _bindings._wasmtime_component_val_delete


class _Text(ctypes.Structure):
    """A component value that is a string, laid out as
    ``wasmtime_component_val_t`` is (the tag, then the union at its
    alignment), with the string's bytes as a ``c_char_p``: assigning a
    ``bytes`` points at it, and keeps it alive, without a copy."""

    _fields_ = [
        ("kind", ctypes.c_uint8),
        ("size", ctypes.c_size_t),
        ("data", ctypes.c_char_p),
        ("_rest", ctypes.c_uint8 * (ctypes.sizeof(_VAL) - 3 * ctypes.sizeof(ctypes.c_size_t))),
    ]


class _Items(ctypes.Structure):
    """A component list or tuple value, laid out as ``_Text`` is."""

    _fields_ = [
        ("kind", ctypes.c_uint8),
        ("size", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("_rest", ctypes.c_uint8 * (ctypes.sizeof(_VAL) - 3 * ctypes.sizeof(ctypes.c_size_t))),
    ]


assert ctypes.sizeof(_Text) == ctypes.sizeof(_Items) == ctypes.sizeof(_VAL)
assert _Text.size.offset == _VAL.of.offset


def _string_of(val) -> str:
    return _text(val.of.string)


def _text(name) -> str:
    return ctypes.string_at(name.data, name.size).decode("utf-8")


def _refusal(record) -> Tuple[str, str, str]:
    """The WIT ``error`` record's ``class`` (an enum), ``reason`` and
    ``message``, read by name."""
    fields = {}
    for i in range(record.size):
        entry = record.data[i]
        fields[_text(entry.name)] = entry.val
    kind = fields["class"].of.enumeration
    return (_text(kind), _string_of(fields["reason"]), _string_of(fields["message"]))


class _FastCall:
    """``process-text(headers, body, vendor, config-json, now)`` through
    wasmtime's C API. wasmtime only reads the arguments (it copies them into
    its own values), so they are built in memory this object owns, pointing
    at the Python bytes they hold; nothing is allocated in C for them. Only
    the result is, and it is freed after each call."""

    def __init__(self, store: wasmtime.Store, func: component.Func) -> None:
        self._store = store
        self._func = ctypes.byref(func._func)
        self._args = (_VAL * 5)()
        self._args_ptr = ctypes.cast(self._args, _VALP)
        size = ctypes.sizeof(_VAL)
        self._headers = _Items.from_buffer(self._args, 0)
        self._body = _Text.from_buffer(self._args, size)
        self._config = _Text.from_buffer(self._args, 3 * size)
        self._result = _VAL()
        self._result_ptr = ctypes.byref(self._result)
        self._outcome = self._result.of.result
        self._config_bytes: Optional[bytes] = None
        self._vendor: Optional[str] = None
        self._vendor_val = _Text()
        args = self._args
        self._headers.kind = _LIST
        self._body.kind = _STRING
        self._config.kind = _STRING
        args[2].kind = _OPTION
        args[2].of.option = None
        args[4].kind = _S64

    def close(self) -> None:
        """Nothing of the arguments was allocated in C: nothing to free."""

    def __call__(self, pairs, body: bytes, vendor: Optional[str], config: bytes, now: int):
        """``(True, event_json)``, or ``(False, (kind, reason, message))``."""
        args = self._args
        if config is not self._config_bytes:
            self._config.size = len(config)
            self._config.data = config
            self._config_bytes = config
        if vendor != self._vendor:
            if vendor:
                encoded = vendor.encode("utf-8")
                self._vendor_val = _Text(_STRING, len(encoded), encoded)
                args[2].of.option = ctypes.cast(ctypes.pointer(self._vendor_val), _VALP)
            else:
                args[2].of.option = None
            self._vendor = vendor
        # The headers: a list of (name, value) tuples of strings.
        count = len(pairs)
        strings = (_Text * (2 * count))()
        tuples = (_Items * count)()
        base = ctypes.addressof(strings)
        size = ctypes.sizeof(_Text)
        for i, (name, value) in enumerate(pairs):
            name = name.encode("utf-8")
            value = value.encode("utf-8")
            strings[2 * i] = _Text(_STRING, len(name), name)
            strings[2 * i + 1] = _Text(_STRING, len(value), value)
            tuples[i] = _Items(_TUPLE, 2, base + 2 * i * size)
        headers = self._headers
        headers.size = count
        headers.data = ctypes.addressof(tuples)
        self._body.size = len(body)
        self._body.data = body
        args[4].of.s64 = now
        context = self._store._context()
        error = _call(self._func, context, self._args_ptr, 5, self._result_ptr, 1)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
        outcome = self._outcome
        try:
            if outcome.is_ok:
                answer = (True, _string_of(outcome.val.contents))
            else:
                answer = (False, _refusal(outcome.val.contents.of.record))
        finally:
            # Emptied, as wasmtime drops what a result slot held before it
            # writes the next result there.
            _delete(self._result_ptr)
            self._result.kind = _BOOL
        error = _post_return(self._func, context)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
        return answer


class Processor:
    """One compiled component and one live instance, reused across calls and
    replaced after a trap."""

    def __init__(self, component_path: Optional[Union[str, Path]] = None) -> None:
        self._engine = wasmtime.Engine()
        path = Path(component_path) if component_path else default_component()
        self._component = component.Component.from_file(self._engine, str(path))
        self._text = None
        self._instantiate()

    def _instantiate(self) -> None:
        if self._text is not None:
            self._text.close()
        self._store = wasmtime.Store(self._engine)
        instance = component.Linker(self._engine).instantiate(self._store, self._component)
        processor = instance.get_export_index(self._store, PROCESSOR)

        def func(name: str) -> component.Func:
            return instance.get_func(self._store, instance.get_export_index(self._store, name, processor))

        self._process_json = func("process-json")
        self._check_config_json = func("check-config-json")
        self._text = _FastCall(self._store, func("process-text"))

    def configure(self, config: Union[Mapping, str]) -> "Configured":
        """Reads and validates ``config`` (a dict, or its JSON text) once;
        returns what processes deliveries with it. Raises
        :class:`ConfigError`."""
        config_json = _config_json(config)
        self.check_config(config_json)
        return Configured(self, config_json)

    def check_config(self, config: Union[Mapping, str]) -> None:
        """Validates a configuration without processing anything: call it
        when the configuration is loaded. Raises :class:`ConfigError`."""
        config_json = _config_json(config)
        try:
            result = self._check_config_json(self._store, config_json)
            self._check_config_json.post_return(self._store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
            self._instantiate()
            raise SwitchboardError("internal", "trap", f"the component failed: {trap}") from trap
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
        configuration (a dict, or its text); ``now`` is unix seconds. With
        one configuration for many deliveries, :meth:`configure` it once."""
        return json.loads(self.process_to_json(headers, body, config, now, vendor))

    def process_to_json(
        self,
        headers: Headers,
        body: bytes,
        config: Union[Mapping, str],
        now: int,
        vendor: Optional[str] = None,
    ) -> str:
        """:meth:`process`, returning the CloudEvent as its JSON text."""
        return self._deliver(headers, body, _config_json(config).encode("utf-8"), now, vendor)

    def process_json(self, request_json: str, vendor: str, config_json: str, now: int) -> str:
        """The component's ``process-json`` as it is: JSON text in and out.
        A trap raises ``SwitchboardError('internal', ...)``."""
        try:
            result = self._process_json(self._store, request_json, vendor, config_json, now)
            self._process_json.post_return(self._store)
            return result
        except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
            self._instantiate()
            raise SwitchboardError("internal", "trap", f"the component failed: {trap}") from trap

    def _deliver(self, headers: Headers, body, config: bytes, now: int, vendor: Optional[str]) -> str:
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"body must be bytes (the raw body as received), not {type(body).__name__}")
        if isinstance(now, bool) or not isinstance(now, int):
            raise TypeError(f"now must be whole unix seconds, not {now!r}")
        pairs = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        for pair in pairs:
            if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], str):
                raise TypeError("headers must be (name, value) pairs or a mapping, all strings")
        body = bytes(body)
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            # Not text: the exact bytes as base64, through process-json.
            request = {"headers": pairs, "body_base64": base64.b64encode(body).decode("ascii")}
            answer = self.process_json(json.dumps(request), vendor or "", config.decode("utf-8"), now)
            if '"specversion"' not in answer[:40]:
                refused = json.loads(answer)
                if "specversion" not in refused:
                    _raise(refused["error"], refused["reason"], refused["message"])
            return answer
        try:
            ok, outcome = self._text(pairs, body, vendor, config, now)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as trap:
            self._instantiate()
            raise SwitchboardError("internal", "trap", f"the component failed: {trap}") from trap
        if not ok:
            _raise(*outcome)
        return outcome


class Configured:
    """A configuration read and validated once (see :meth:`Processor.configure`)."""

    def __init__(self, processor: Processor, config_json: str) -> None:
        self._processor = processor
        self._config = config_json.encode("utf-8")

    def process(self, headers: Headers, body: bytes, now: int, vendor: Optional[str] = None) -> dict:
        """Verifies and normalizes one delivery; returns the CloudEvent as a
        dict or raises ``SwitchboardError``."""
        return json.loads(self._processor._deliver(headers, body, self._config, now, vendor))

    def process_to_json(self, headers: Headers, body: bytes, now: int, vendor: Optional[str] = None) -> str:
        """:meth:`process`, returning the CloudEvent as its JSON text."""
        return self._processor._deliver(headers, body, self._config, now, vendor)


def _config_json(config: Union[Mapping, str]) -> str:
    if isinstance(config, str):
        return config
    if isinstance(config, Mapping):
        return json.dumps(config)
    raise TypeError(f"config must be a mapping or JSON text, not {type(config).__name__}")
