//! The payload as parsed, and the event as written.
//!
//! A verified body is parsed once, by `serde_json`, into a [`Value`] tree
//! whose strings borrow the body wherever the body writes them without
//! escapes: object keys and string values cost no allocation of their own,
//! and the normalized event carries the same borrowed text into its output.
//! `serde_json` does the parsing, so what is accepted as JSON, the depth
//! limit and every error message are exactly `serde_json`'s.
//!
//! Objects are their entries in document order. A key written twice is
//! read as its last occurrence (as `serde_json` and JavaScript read it), and
//! an object passed through as given ([`Value::unique`]) keeps each key once,
//! at its first position, with its last value.
//!
//! The output is written directly ([`Writer`]): no intermediate document,
//! strings escaped as `serde_json` escapes them, numbers formatted as it
//! formats them.

mod de;
mod parse;

pub use de::DeError;

use std::borrow::Cow;
use std::fmt;

use serde_json::Number;

/// Text read from the payload: borrowed from the body when the body writes it
/// without escapes, owned otherwise (and wherever normalization rewrote it).
pub type Text<'a> = Cow<'a, str>;

/// A JSON value whose strings borrow the document it was parsed from.
///
/// Its tag is a whole word (`repr(u64)`), so that every payload starts 8
/// bytes in: with a one-byte tag, moves copied a value as 16-byte pieces
/// at odd offsets, each a stall when read back from the stores that had
/// just written it (the parser ran about 20 % faster for this alone). The
/// size is the same, 32 bytes.
#[derive(Debug, Clone, PartialEq, Default)]
#[repr(u64)]
pub enum Value<'a> {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it (an integer, else an `f64`).
    Number(Number),
    /// A string.
    String(Text<'a>),
    /// An array.
    Array(Vec<Value<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// A JSON object: its entries in document order (see the module doc for
/// keys written twice).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object<'a> {
    entries: Vec<(Text<'a>, Value<'a>)>,
}

impl<'a> Value<'a> {
    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The array's items, if this is one.
    pub fn as_array(&self) -> Option<&[Value<'a>]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The string as [`Text`] (borrowed when the document's was), if this is
    /// one.
    pub fn as_text(&self) -> Option<Text<'a>> {
        match self {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A copy in which every object holds each key once, at its first
    /// position, with its last value: the value as `serde_json::Value`
    /// would hold it, for passing it through as given.
    pub fn unique(&self) -> Value<'a> {
        match self {
            Value::Object(object) => Value::Object(object.unique()),
            Value::Array(items) => Value::Array(items.iter().map(Value::unique).collect()),
            other => other.clone(),
        }
    }

    /// A value that borrows nothing, from a `serde_json::Value` (for tests
    /// and for callers that hold one already).
    pub fn from_serde(value: serde_json::Value) -> Value<'static> {
        match value {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(Cow::Owned(s)),
            serde_json::Value::Array(items) => {
                Value::Array(items.into_iter().map(Value::from_serde).collect())
            }
            serde_json::Value::Object(map) => Value::Object(Object {
                entries: map
                    .into_iter()
                    .map(|(k, v)| (Cow::Owned(k), Value::from_serde(v)))
                    .collect(),
            }),
        }
    }

    /// The name of this value's JSON type (`object`, `array`, `string`,
    /// `number`, `boolean`, `null`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }
}

impl<'a> Object<'a> {
    /// An empty object.
    pub fn new() -> Object<'a> {
        Object::default()
    }

    /// The value of `key` (its last occurrence).
    pub fn get(&self, key: &str) -> Option<&Value<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k.as_ref() == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` is present (even as `null`).
    pub fn contains_key(&self, key: &str) -> bool {
        self.entries.iter().any(|(k, _)| k.as_ref() == key)
    }

    /// Whether the object has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries in document order (a key written twice appears twice).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Adds an entry at the end (replacing nothing: build objects with
    /// distinct keys).
    pub fn push(&mut self, key: impl Into<Text<'a>>, value: Value<'a>) {
        self.entries.push((key.into(), value));
    }

    /// The entries, in document order.
    pub fn into_entries(self) -> Vec<(Text<'a>, Value<'a>)> {
        self.entries
    }

    /// Keeps the entries for which `keep` holds.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &Value<'a>) -> bool) {
        self.entries.retain(|(k, v)| keep(k, v));
    }

    /// A copy with each key once, at its first position, with its last
    /// value, recursively (see [`Value::unique`]).
    pub fn unique(&self) -> Object<'a> {
        let entries = &self.entries;
        let small = entries.len() <= 16;
        if small
            && !(0..entries.len())
                .any(|i| (i + 1..entries.len()).any(|j| entries[i].0 == entries[j].0))
        {
            // No key is written twice: a copy, each value made unique.
            return Object {
                entries: entries
                    .iter()
                    .map(|(k, v)| (k.clone(), v.unique()))
                    .collect(),
            };
        }
        // The last occurrence of each key, by its first position. Objects
        // are small; larger ones are sorted rather than compared pairwise,
        // so that no payload can make this quadratic.
        let last_of: Vec<usize> = if small {
            (0..entries.len())
                .map(|i| {
                    (i..entries.len())
                        .rev()
                        .find(|&j| entries[j].0 == entries[i].0)
                        .unwrap_or(i)
                })
                .collect()
        } else {
            let order = stable_sort((0..entries.len()).collect(), |a, b| {
                entries[a].0 < entries[b].0
            });
            let mut last_of = vec![0; entries.len()];
            let mut run = 0;
            while run < order.len() {
                let mut end = run;
                while end + 1 < order.len() && entries[order[end + 1]].0 == entries[order[run]].0 {
                    end += 1;
                }
                for &i in &order[run..=end] {
                    last_of[i] = order[end];
                }
                run = end + 1;
            }
            last_of
        };
        let mut seen_first = vec![false; entries.len()];
        let mut unique = Vec::with_capacity(entries.len());
        for (i, (key, _)) in entries.iter().enumerate() {
            let last = last_of[i];
            if seen_first[last] {
                continue;
            }
            seen_first[last] = true;
            unique.push((key.clone(), entries[last].1.unique()));
        }
        Object { entries: unique }
    }
}

/// `items` sorted by `less`, equal ones kept in order: a bottom-up merge
/// sort, O(n log n) and a few lines (the standard library's sorts are
/// several kilobytes of WebAssembly each).
fn stable_sort(items: Vec<usize>, less: impl Fn(usize, usize) -> bool) -> Vec<usize> {
    let n = items.len();
    let mut from = items;
    let mut to = vec![0; n];
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let middle = (start + width).min(n);
            let end = (start + 2 * width).min(n);
            let (mut left, mut right) = (start, middle);
            for slot in &mut to[start..end] {
                let take_right = right < end && (left == middle || less(from[right], from[left]));
                if take_right {
                    *slot = from[right];
                    right += 1;
                } else {
                    *slot = from[left];
                    left += 1;
                }
            }
            start = end;
        }
        std::mem::swap(&mut from, &mut to);
        width *= 2;
    }
    from
}

/// Why a text is not one JSON document: what was wrong and where, in
/// `serde_json`'s words (`expected value at line 1 column 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    reason: &'static str,
    line: usize,
    column: usize,
}

impl Error {
    fn at(text: &[u8], fail: parse::Fail) -> Error {
        let before = text.get(..fail.at).unwrap_or(text);
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        Error {
            reason: fail.reason,
            line: 1 + before.iter().filter(|&&b| b == b'\n').count(),
            column: before.len() - line_start,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.reason, self.line, self.column
        )
    }
}

impl std::error::Error for Error {}

/// Parses `text` as one JSON document: what `serde_json` accepts, read as
/// it reads it (see `parse.rs`).
pub fn parse(text: &str) -> Result<Value<'_>, Error> {
    parse_document(text).map(|document| document.value)
}

/// A document as [`parse_document`] read it.
#[derive(Debug)]
pub struct Document<'a> {
    /// Its text.
    pub text: &'a str,
    /// Its value.
    pub value: Value<'a>,
    /// Whether its text breaks a line (in whitespace between tokens: a
    /// string holds a line break only escaped).
    pub breaks_lines: bool,
}

/// [`parse`], also telling whether the text breaks a line, so that writing
/// it as it is on one line ([`Writer::raw`]) need not look for one.
pub fn parse_document(text: &str) -> Result<Document<'_>, Error> {
    parse::Parser::new(text)
        .document()
        .map(|(value, breaks_lines)| Document {
            text,
            value,
            breaks_lines,
        })
        .map_err(|fail| Error::at(text.as_bytes(), fail))
}

/// `text` as a JSON number, all of it (no whitespace around it), read as
/// `serde_json` reads it; `None` when it is not one, or one out of range.
pub fn number(text: &str) -> Option<Number> {
    parse::whole_number(text)
}

/// Parses raw body bytes: [`parse`] once they are known to be UTF-8.
pub fn parse_bytes(body: &[u8]) -> Result<Value<'_>, Error> {
    parse_body(body).map(|document| document.value)
}

/// Parses raw body bytes: [`parse_document`] once they are known to be
/// UTF-8 (checked once: the document's text is the body).
pub fn parse_body(body: &[u8]) -> Result<Document<'_>, Error> {
    parse_document(utf8(body)?)
}

/// Raw body bytes as text, or where they stop being UTF-8.
fn utf8(body: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(body).map_err(|error| {
        Error::at(
            body,
            parse::Fail {
                reason: "invalid unicode code point",
                at: error.valid_up_to() + 1,
            },
        )
    })
}

/// A member name as [`Writer::member`] takes it: quoted and followed by its
/// colon, at compile time (the event's names are plain ASCII).
#[macro_export]
macro_rules! key {
    ($name:expr) => {
        concat!("\"", $name, "\":")
    };
}

/// Writes one compact JSON document.
#[derive(Debug, Default)]
pub struct Writer {
    out: String,
    /// Whether the next member of the open object or array needs a comma.
    comma: bool,
}

/// What [`Writer`] can write as one JSON value.
pub trait WriteJson {
    /// Writes `self` as one value.
    fn write_json(&self, w: &mut Writer);
}

impl Writer {
    /// A writer with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> Writer {
        Writer {
            out: String::with_capacity(capacity),
            comma: false,
        }
    }

    /// The document written.
    pub fn finish(self) -> String {
        self.out
    }

    /// Opens an object.
    pub fn begin_object(&mut self) {
        self.separate();
        mark(&mut self.out, "{");
        self.comma = false;
    }

    /// Closes the object opened last.
    pub fn end_object(&mut self) {
        mark(&mut self.out, "}");
        self.comma = true;
    }

    /// Opens an array.
    pub fn begin_array(&mut self) {
        self.separate();
        mark(&mut self.out, "[");
        self.comma = false;
    }

    /// Closes the array opened last.
    pub fn end_array(&mut self) {
        mark(&mut self.out, "]");
        self.comma = true;
    }

    /// Writes the key of the next member of the open object: any text,
    /// escaped.
    pub fn key(&mut self, key: &str) {
        self.separate();
        write_escaped(&mut self.out, key);
        mark(&mut self.out, ":");
        self.comma = false;
    }

    /// [`Writer::key`] for one of the event's own field names, given
    /// already quoted and followed by its colon (`"id":`, see [`key!`]).
    fn name(&mut self, quoted: &'static str) {
        debug_assert!(quoted.starts_with('"') && quoted.ends_with("\":"));
        self.separate();
        self.out.push_str(quoted);
        self.comma = false;
    }

    /// Writes a member of the open object, named by one of the event's own
    /// field names given as [`key!`] writes it.
    pub fn member(&mut self, quoted: &'static str, value: &(impl WriteJson + ?Sized)) {
        self.name(quoted);
        value.write_json(self);
    }

    /// Writes a member when `value` is present.
    pub fn member_opt(&mut self, quoted: &'static str, value: Option<&(impl WriteJson + ?Sized)>) {
        if let Some(value) = value {
            self.member(quoted, value);
        }
    }

    /// Writes an item of the open array.
    pub fn item(&mut self, value: &(impl WriteJson + ?Sized)) {
        value.write_json(self);
    }

    fn separate(&mut self) {
        if self.comma {
            mark(&mut self.out, ",");
        }
    }

    /// Writes a string value.
    pub fn string(&mut self, value: &str) {
        self.separate();
        write_escaped(&mut self.out, value);
        self.comma = true;
    }

    /// Writes text that is already one valid JSON value, as it is, except
    /// that line breaks (whitespace between tokens, the only place a valid
    /// document can hold one) become spaces, so that the output stays one
    /// line. `breaks_lines` false says that the text holds none, as
    /// [`parse_document`] found: it is then copied without looking.
    pub fn raw(&mut self, json: &str, breaks_lines: bool) {
        self.separate();
        if !breaks_lines {
            debug_assert!(!json.contains(['\n', '\r']), "a line break in {json}");
            self.out.push_str(json);
            self.comma = true;
            return;
        }
        let bytes = json.as_bytes();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            // Eight bytes at a time while none is a control character (in
            // a valid document, only whitespace between tokens can be).
            if let Some(chunk) = bytes.get(i..i + 8)
                && !has_control(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])))
            {
                i += 8;
                continue;
            }
            if matches!(bytes[i], b'\n' | b'\r') {
                self.out.push_str(json.get(start..i).unwrap_or_default());
                self.out.push(' ');
                start = i + 1;
            }
            i += 1;
        }
        self.out.push_str(json.get(start..).unwrap_or_default());
        self.comma = true;
    }
}

impl WriteJson for str {
    fn write_json(&self, w: &mut Writer) {
        w.string(self);
    }
}

impl WriteJson for String {
    fn write_json(&self, w: &mut Writer) {
        w.string(self);
    }
}

impl WriteJson for Cow<'_, str> {
    fn write_json(&self, w: &mut Writer) {
        w.string(self);
    }
}

impl WriteJson for Number {
    /// As `serde_json` writes it (its `Display` formats with these two),
    /// without going through `core::fmt`: numbers through it were a fifth
    /// of the guest's time in writing an event (a transcript's turn has
    /// two, its start and end).
    fn write_json(&self, w: &mut Writer) {
        w.separate();
        if let Some(n) = self.as_u64() {
            w.out.push_str(itoa::Buffer::new().format(n));
        } else if let Some(n) = self.as_i64() {
            w.out.push_str(itoa::Buffer::new().format(n));
        } else if let Some(n) = self.as_f64() {
            // A Number's float is always finite.
            w.out.push_str(zmij::Buffer::new().format_finite(n));
        }
        w.comma = true;
    }
}

impl WriteJson for i64 {
    fn write_json(&self, w: &mut Writer) {
        w.separate();
        w.out.push_str(itoa::Buffer::new().format(*self));
        w.comma = true;
    }
}

impl WriteJson for bool {
    fn write_json(&self, w: &mut Writer) {
        w.separate();
        w.out.push_str(if *self { "true" } else { "false" });
        w.comma = true;
    }
}

impl<T: WriteJson> WriteJson for Vec<T> {
    fn write_json(&self, w: &mut Writer) {
        w.begin_array();
        for item in self {
            w.item(item);
        }
        w.end_array();
    }
}

impl WriteJson for Value<'_> {
    fn write_json(&self, w: &mut Writer) {
        match self {
            Value::Null => {
                w.separate();
                w.out.push_str("null");
                w.comma = true;
            }
            Value::Bool(b) => b.write_json(w),
            Value::Number(n) => n.write_json(w),
            Value::String(s) => w.string(s),
            Value::Array(items) => items.write_json(w),
            Value::Object(object) => object.write_json(w),
        }
    }
}

impl WriteJson for Object<'_> {
    fn write_json(&self, w: &mut Writer) {
        w.begin_object();
        for (key, value) in &self.entries {
            w.key(key);
            value.write_json(w);
        }
        w.end_object();
    }
}

/// Appends one ASCII punctuation mark. (`push_str`, not `push` of a
/// `char`: in the guest, built for size, `push` is a call that encodes the
/// `char` as UTF-8, and the processor ran about 2 % faster over the mix
/// without it.)
#[inline(always)]
#[allow(clippy::single_char_add_str, reason = "see above")]
fn mark(out: &mut String, text: &'static str) {
    out.push_str(text);
}

/// Writes `value` as a JSON string: `"`, `\` and control characters
/// escaped as `serde_json` escapes them, everything else as it is.
fn write_escaped(out: &mut String, value: &str) {
    mark(out, "\"");
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping.
        if let Some(chunk) = bytes.get(i..i + 8)
            && !needs_escape(u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])))
        {
            i += 8;
            continue;
        }
        let byte = bytes[i];
        let escape = escape_of(byte);
        if escape != 0 {
            out.push_str(value.get(start..i).unwrap_or_default());
            match escape {
                b'u' => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    out.push_str("\\u00");
                    out.push(char::from(HEX[usize::from(byte >> 4)]));
                    out.push(char::from(HEX[usize::from(byte & 0xf)]));
                }
                c => {
                    out.push('\\');
                    out.push(char::from(c));
                }
            }
            start = i + 1;
        }
        i += 1;
    }
    out.push_str(value.get(start..).unwrap_or_default());
    mark(out, "\"");
}

/// The escape of `byte` (`n` for `\n`, `u` for `\u00XX`), or 0.
fn escape_of(byte: u8) -> u8 {
    match byte {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x0c => b'f',
        b'\n' => b'n',
        b'\r' => b'r',
        b'\t' => b't',
        0x00..=0x1f => b'u',
        _ => 0,
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Whether any of the eight bytes of `chunk` is a control character (below
/// 0x20; exact, by the usual has-less-than trick).
fn has_control(chunk: u64) -> bool {
    chunk.wrapping_sub(ONES * 0x20) & !chunk & HIGH != 0
}

/// Whether any of the eight bytes of `chunk` is `"`, `\` or a control
/// character (exact, by the has-less-than and has-zero tricks).
fn needs_escape(chunk: u64) -> bool {
    let below_space = chunk.wrapping_sub(ONES * 0x20) & !chunk;
    let quote = chunk ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = chunk ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | quote | backslash) & HIGH != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(value: &(impl WriteJson + ?Sized)) -> String {
        let mut w = Writer::default();
        value.write_json(&mut w);
        w.finish()
    }

    #[test]
    fn strings_borrow_the_document_unless_escaped() {
        let text = r#"{"a": "plain", "b\u0063": "esc\"aped", "n": [1, -2, 2.5, 1e2, true, null]}"#;
        let value = parse(text).unwrap();
        let object = value.as_object().unwrap();
        assert!(matches!(
            object.get("a"),
            Some(Value::String(Cow::Borrowed("plain")))
        ));
        assert!(matches!(object.get("bc"), Some(Value::String(Cow::Owned(s))) if s == "esc\"aped"));
        assert_eq!(
            written(&value),
            r#"{"a":"plain","bc":"esc\"aped","n":[1,-2,2.5,100.0,true,null]}"#
        );
    }

    #[test]
    fn parsing_is_serde_json_s() {
        for bad in [
            "",
            "{",
            "[1,]",
            "{\"a\":1}x",
            "\"\u{1}\"",
            "1e400",
            "[[[[",
            "nul",
        ] {
            let ours = parse(bad).unwrap_err().to_string();
            let theirs = serde_json::from_str::<serde_json::Value>(bad)
                .unwrap_err()
                .to_string();
            assert_eq!(ours, theirs, "{bad:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(
            parse(&deep)
                .unwrap_err()
                .to_string()
                .contains("recursion limit")
        );
        let ours = parse_bytes(b"{\"a\": \"\xff\"}").unwrap_err().to_string();
        let theirs = serde_json::from_slice::<serde_json::Value>(b"{\"a\": \"\xff\"}")
            .unwrap_err()
            .to_string();
        assert_eq!(ours, theirs);
    }

    /// Whether `ours` and `theirs` are the same document, numbers compared
    /// by kind and bits (so that `-0.0` differs from `0`).
    fn same(ours: &Value<'_>, theirs: &serde_json::Value) -> bool {
        use serde_json::Value as J;
        match (ours, theirs) {
            (Value::Null, J::Null) => true,
            (Value::Bool(a), J::Bool(b)) => a == b,
            (Value::Number(a), J::Number(b)) => {
                (a.is_u64(), a.is_i64(), a.is_f64()) == (b.is_u64(), b.is_i64(), b.is_f64())
                    && a.as_u64() == b.as_u64()
                    && a.as_i64() == b.as_i64()
                    && a.as_f64().map(f64::to_bits) == b.as_f64().map(f64::to_bits)
            }
            (Value::String(a), J::String(b)) => a == b,
            (Value::Array(a), J::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same(a, b))
            }
            (Value::Object(a), J::Object(b)) => {
                let unique = a.unique();
                unique.entries.len() == b.len()
                    && unique
                        .iter()
                        .all(|(k, v)| b.get(k).is_some_and(|theirs| same(v, theirs)))
            }
            _ => false,
        }
    }

    /// The parser and `serde_json` agree on `text`: both refuse it, or both
    /// read the same document.
    fn agrees(text: &str) {
        let ours = parse(text);
        let theirs = serde_json::from_str::<serde_json::Value>(text);
        match (&ours, &theirs) {
            (Err(ours), Err(theirs)) => {
                assert_eq!(ours.to_string(), theirs.to_string(), "{text:?}");
            }
            (Ok(ours), Ok(theirs)) => {
                assert!(same(ours, theirs), "{text:?}: {ours:?} vs {theirs:?}")
            }
            _ => panic!("{text:?}: ours {ours:?}, serde_json {theirs:?}"),
        }
    }

    #[test]
    fn the_parser_agrees_with_serde_json_on_edge_cases() {
        let deep = |n: usize| "[".repeat(n) + &"]".repeat(n);
        let deep_objects = |n: usize| "{\"a\":".repeat(n) + "1" + &"}".repeat(n);
        let cases = [
            "0",
            "-0",
            "-0.0",
            "0.0",
            "1",
            "-1",
            "01",
            "-01",
            "00",
            "1.",
            ".1",
            "1.e1",
            "1e",
            "1e+",
            "1e-",
            "+1",
            "--1",
            "1.5",
            "-1.5",
            "1e22",
            "1e23",
            "1.5e22",
            "1.5e-22",
            "123e-25",
            "0.1",
            "0.30000000000000004",
            "1.000000000000000000001",
            "1e308",
            "1e309",
            "1.8e308",
            "1.7976931348623157e308",
            "-1.7976931348623157e308",
            "1e-400",
            "5e-324",
            "2e-324",
            "18446744073709551615",
            "18446744073709551616",
            "-9223372036854775808",
            "-9223372036854775809",
            "9223372036854775807",
            "123456789012345678901234567890",
            "12345678901234567890.5",
            "0e99999999999",
            "1e99999999999",
            "1e-99999999999",
            "1E5",
            "1e05",
            "-0e0",
            "4.4e1",
            "9007199254740993",
            "9007199254740993.0",
            "true",
            "false",
            "null",
            "tru",
            "nul",
            "True",
            "[true,false,null]",
            "\"\"",
            "\"a\"",
            "\"\\\"\"",
            "\"\\\\\"",
            "\"\\/\"",
            "\"\\b\\f\\n\\r\\t\"",
            "\"\\u0041\"",
            "\"\\u00e9\"",
            "\"\\u0000\"",
            "\"\\uD83D\\uDE00\"",
            "\"\\ud83d\\ude00\"",
            "\"\\uD800\"",
            "\"\\uDC00\"",
            "\"\\uD800\\u0041\"",
            "\"\\uD800\\n\"",
            "\"\\uD800x\"",
            "\"\\uD800\\uD800\\uDC00\"",
            "\"\\u00G0\"",
            "\"\\u12\"",
            "\"\\x\"",
            "\"\\\"",
            "\"a",
            "\"\u{1}\"",
            "\"\u{1f}\"",
            "\"\u{7f}\"",
            "\"tab\tinside\"",
            "\"é✓😀\"",
            "{}",
            "[]",
            "{\"a\":1}",
            "{\"a\":1,}",
            "[1,]",
            "[,1]",
            "{,}",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{\"a\" : 1 , \"b\" :[ ] }",
            " \t\n\r1 \t\n\r",
            "\u{feff}1",
            "1 2",
            "[1 2]",
            "{\"a\":1 \"b\":2}",
            "{\"a\":1,\"a\":2}",
            "{\"\\u0061\":1,\"a\":2}",
            "",
            " ",
            "[",
            "]",
            "{",
            "}",
            "[1",
            "{\"a\":1",
            "\u{a0}1",
            "[1,",
            "{\"a\":1,",
            "{\"a\"",
            "[1 ",
            "{\"a\" ",
        ];
        for case in cases {
            agrees(case);
        }
        for n in [1, 126, 127, 128, 129, 300] {
            agrees(&deep(n));
            agrees(&deep_objects(n));
            agrees(&deep(n)[..n]);
            agrees(&(deep_objects(n)[..5 * n].to_owned() + ","));
        }
    }

    #[test]
    fn the_parser_agrees_with_serde_json_on_every_fixture_and_its_mutations() {
        const PIECES: &[&str] = &[
            "\"", "\\", "{", "}", "[", "]", ",", ":", "0", "-", ".", "e", "E", "+", "1", " ", "\n",
            "\u{1}", "\\u", "\\ud800", "\\udc00", "\\u00e9", "t", "n", "/", "é", "00", "1e400",
            "\\\"", "", "null", "[[", "}}",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut checked = 0;
        for fixture in switchboard_fixtures::all() {
            let Ok(text) = std::str::from_utf8(&fixture.body) else {
                continue;
            };
            agrees(text);
            for _ in 0..40 {
                let mut at = usize::try_from(next() % (text.len() as u64 + 1)).unwrap();
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                let piece = PIECES[usize::try_from(next() % PIECES.len() as u64).unwrap()];
                let mut cut = at + usize::try_from(next() % 3).unwrap();
                while cut > text.len() || !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                agrees(&format!("{}{piece}{}", &text[..at], &text[cut..]));
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }

    #[test]
    fn floats_on_the_fast_path_and_at_its_edges_read_as_serde_json_reads_them() {
        // Significands at and around 2^53 and short ones, with every
        // power of ten the fast path takes and those just past it, written
        // with a point, an exponent or both.
        let big = 1u64 << 53;
        let significands = [
            0,
            1,
            5,
            35,
            101,
            123_456,
            999_999_999,
            big - 1,
            big,
            big + 1,
            big * 3,
        ];
        for significand in significands {
            let digits = significand.to_string();
            for exponent in -25i32..=25 {
                for sign in ["", "-"] {
                    let mut texts = vec![format!("{sign}{digits}e{exponent}")];
                    // The same value with some of its digits after a point.
                    if digits.len() > 1 {
                        let (whole, fraction) = digits.split_at(1);
                        let shifted = exponent + i32::try_from(fraction.len()).unwrap();
                        texts.push(format!("{sign}{whole}.{fraction}e{shifted}"));
                        if shifted == 0 {
                            texts.push(format!("{sign}{whole}.{fraction}"));
                        }
                    }
                    texts.push(format!("{sign}0.{digits}e{exponent}"));
                    for text in texts {
                        agrees(&text);
                        let ours = number(&text).and_then(|n| n.as_f64()).map(f64::to_bits);
                        let theirs = text.parse::<Number>().ok().and_then(|n| n.as_f64());
                        assert_eq!(ours, theirs.map(f64::to_bits), "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_read_as_serde_json_reads_them() {
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..20_000 {
            let mut text = String::new();
            if next(2) == 0 {
                text.push('-');
            }
            let digits = 1 + next(30);
            for i in 0..digits {
                let d = if i == 0 && digits > 1 {
                    1 + next(9)
                } else {
                    next(10)
                };
                text.push(char::from(b'0' + u8::try_from(d).unwrap()));
            }
            if next(2) == 0 {
                text.push('.');
                for _ in 0..1 + next(25) {
                    text.push(char::from(b'0' + u8::try_from(next(10)).unwrap()));
                }
            }
            if next(2) == 0 {
                let e = usize::try_from(next(2)).unwrap();
                text.push(['e', 'E'][e]);
                let sign = usize::try_from(next(3)).unwrap();
                text.push_str(["", "+", "-"][sign]);
                let range = if next(4) == 0 { 12_000_000_000 } else { 420 };
                let exponent = next(range);
                text.push_str(&exponent.to_string());
            }
            agrees(&text);
            let ours = number(&text);
            let theirs = text.parse::<Number>().ok();
            assert_eq!(
                ours.as_ref()
                    .map(|n| (n.as_u64(), n.as_i64(), n.as_f64().map(f64::to_bits))),
                theirs
                    .as_ref()
                    .map(|n| (n.as_u64(), n.as_i64(), n.as_f64().map(f64::to_bits))),
                "{text}"
            );
        }
        for text in [" 1", "1 ", "", "-", "1.5x", "x", "01", "+1"] {
            assert_eq!(number(text), None, "{text:?}");
            assert!(text.parse::<Number>().is_err(), "{text:?}");
        }
    }

    #[test]
    fn the_last_of_a_repeated_key_counts() {
        let value = parse(r#"{"a": 1, "b": {"x": 1, "x": null}, "a": 2}"#).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.get("a"), Some(&Value::Number(2.into())));
        assert_eq!(written(&value.unique()), r#"{"a":2,"b":{"x":null}}"#);
        // Large objects take the sorting path.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{}\": {i}", i % 20)).collect();
        let text = format!("{{{}}}", many.join(","));
        let value = parse(&text).unwrap();
        let unique = value.unique();
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&written(&unique)).unwrap(),
            expected
        );
        assert_eq!(unique.as_object().unwrap().iter().count(), 20);
    }

    #[test]
    fn escaping_matches_serde_json() {
        for s in [
            "",
            "plain text that is longer than eight bytes",
            "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} del \u{7f}",
            "é, ✓, 😀 and \u{1f} at the end\u{1f}",
            "\"\"\"\"\"\"\"\"\"",
        ] {
            assert_eq!(written(s), serde_json::to_string(s).unwrap(), "{s:?}");
        }
        for byte in 0..=255u8 {
            let chunk = u64::from_le_bytes([b'a', b'b', byte, b'c', b'd', b'e', b'f', b'g']);
            assert_eq!(needs_escape(chunk), escape_of(byte) != 0, "{byte}");
            assert_eq!(has_control(chunk), byte < 0x20, "{byte}");
        }
    }

    #[test]
    fn raw_json_stays_on_one_line() {
        let text = "{\r\n  \"a\": [1,\n 2]\n}\n";
        assert!(parse_document(text).unwrap().breaks_lines);
        let mut w = Writer::default();
        w.raw(text, true);
        let out = w.finish();
        assert!(!out.contains(['\n', '\r']));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&out).unwrap(),
            serde_json::json!({"a": [1, 2]})
        );
    }

    #[test]
    fn a_document_breaks_lines_only_where_its_whitespace_does() {
        for (text, breaks) in [
            ("{}", false),
            (" {\"a\": \"x\\ny\", \"b\":\t[1, 2]} ", false),
            ("{\"a\": 1}\n", true),
            ("\r{}", true),
            ("[1,\n2]", true),
            ("{\"a\"\r\n: 1}", true),
        ] {
            assert_eq!(
                parse_document(text).unwrap().breaks_lines,
                breaks,
                "{text:?}"
            );
        }
        // A document that breaks no line is copied as it is.
        let text = "{\"a\": \"x\\ny\"}";
        let mut w = Writer::default();
        w.raw(text, false);
        assert_eq!(w.finish(), text);
    }
}
