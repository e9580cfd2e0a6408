//! The parser: one pass over the text, building the tree directly.
//!
//! It accepts exactly what `serde_json` accepts (RFC 8259, at most 127
//! nested arrays and objects, paired `\u` surrogates, no control character
//! in a string, numbers `serde_json` can represent) and converts numbers as
//! `serde_json` converts them, so that a payload reads the same either way;
//! `json::tests` checks both against `serde_json` on every fixture body and
//! on thousands of mutations of them. When it refuses a document, the caller
//! asks `serde_json` for its error message and position.
//!
//! Entries of objects and items of arrays are gathered on two stacks shared
//! by the whole document and moved into one allocation of the right size
//! when their object or array closes.

use std::borrow::Cow;

use serde_json::Number;

use super::{Object, Text, Value};

/// `serde_json`'s recursion limit: this many nested arrays and objects are
/// refused.
const DEPTH_LIMIT: usize = 128;

pub(super) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    entries: Vec<(Text<'a>, Value<'a>)>,
    items: Vec<Value<'a>>,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
            entries: Vec::new(),
            items: Vec::new(),
        }
    }

    /// The whole text as one document, or `None` if it is not one.
    pub(super) fn document(mut self) -> Option<Value<'a>> {
        let value = self.value()?;
        self.skip_whitespace();
        (self.at == self.bytes.len()).then_some(value)
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Option<Value<'a>> {
        self.skip_whitespace();
        match *self.bytes.get(self.at)? {
            b'"' => self.string().map(Value::String),
            b'{' => self.object(),
            b'[' => self.array(),
            b't' => self.literal(b"true", Value::Bool(true)),
            b'f' => self.literal(b"false", Value::Bool(false)),
            b'n' => self.literal(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number().map(Value::Number),
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8], value: Value<'a>) -> Option<Value<'a>> {
        let end = self.at + word.len();
        (self.bytes.get(self.at..end)? == word).then(|| {
            self.at = end;
            value
        })
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth < DEPTH_LIMIT).then_some(())
    }

    fn object(&mut self) -> Option<Value<'a>> {
        self.enter()?;
        self.at += 1; // `{`
        let start = self.entries.len();
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.bytes.get(self.at) != Some(&b'"') {
                    return None;
                }
                let key = self.string()?;
                self.skip_whitespace();
                if self.bytes.get(self.at) != Some(&b':') {
                    return None;
                }
                self.at += 1;
                let value = self.value()?;
                self.entries.push((key, value));
                self.skip_whitespace();
                match self.bytes.get(self.at) {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        let entries: Vec<_> = self.entries.drain(start..).collect();
        Some(Value::Object(Object { entries }))
    }

    fn array(&mut self) -> Option<Value<'a>> {
        self.enter()?;
        self.at += 1; // `[`
        let start = self.items.len();
        self.skip_whitespace();
        if self.bytes.get(self.at) == Some(&b']') {
            self.at += 1;
        } else {
            loop {
                let item = self.value()?;
                self.items.push(item);
                self.skip_whitespace();
                match self.bytes.get(self.at) {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        let items: Vec<_> = self.items.drain(start..).collect();
        Some(Value::Array(items))
    }

    /// A string, borrowed from the text unless it has escapes. `at` is on
    /// its opening quote.
    fn string(&mut self) -> Option<Text<'a>> {
        self.at += 1;
        let start = self.at;
        let end = self.plain_run(start);
        match *self.bytes.get(end)? {
            b'"' => {
                self.at = end + 1;
                Some(Cow::Borrowed(self.text.get(start..end)?))
            }
            b'\\' => {
                self.at = end;
                let mut owned = String::with_capacity(end - start + 16);
                owned.push_str(self.text.get(start..end)?);
                self.escaped(owned).map(Cow::Owned)
            }
            _ => None, // a control character
        }
    }

    /// Where the run of string bytes that need no attention, from `from`,
    /// ends: at a quote, a backslash, a control character or the end.
    fn plain_run(&self, from: usize) -> usize {
        let bytes = self.bytes;
        let mut i = from;
        while let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            if super::needs_escape(word) {
                break;
            }
            i += 8;
        }
        while let Some(&b) = bytes.get(i) {
            if b == b'"' || b == b'\\' || b < 0x20 {
                break;
            }
            i += 1;
        }
        i
    }

    /// The rest of a string with escapes, appended to `owned`; `at` is on a
    /// backslash.
    fn escaped(&mut self, mut owned: String) -> Option<String> {
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    self.at += 1;
                    return Some(owned);
                }
                b'\\' => {
                    let escape = *self.bytes.get(self.at + 1)?;
                    self.at += 2;
                    match escape {
                        b'"' => owned.push('"'),
                        b'\\' => owned.push('\\'),
                        b'/' => owned.push('/'),
                        b'b' => owned.push('\u{8}'),
                        b'f' => owned.push('\u{c}'),
                        b'n' => owned.push('\n'),
                        b'r' => owned.push('\r'),
                        b't' => owned.push('\t'),
                        b'u' => owned.push(self.unicode_escape()?),
                        _ => return None,
                    }
                }
                _ => {
                    let end = self.plain_run(self.at);
                    if end == self.at {
                        return None; // a control character
                    }
                    owned.push_str(self.text.get(self.at..end)?);
                    self.at = end;
                }
            }
        }
    }

    /// The character of a `\u` escape (and of the `\u` escape that must
    /// follow a leading surrogate); `at` is after the `u`.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        match first {
            0xDC00..=0xDFFF => None,
            0xD800..=0xDBFF => {
                if self.bytes.get(self.at..self.at + 2)? != b"\\u" {
                    return None;
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                char::from_u32(0x1_0000 + ((first - 0xD800) << 10 | (second - 0xDC00)))
            }
            other => char::from_u32(other),
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        self.at += 4;
        digits.iter().try_fold(0u32, |acc, &b| {
            let digit = char::from(b).to_digit(16)?;
            Some(acc << 4 | digit)
        })
    }

    /// A number: its grammar checked here, its value as `serde_json` reads
    /// it (see [`number_value`]).
    fn number(&mut self) -> Option<Number> {
        let start = self.at;
        let bytes = self.bytes;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => {
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return None,
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let digits = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == digits {
                return None;
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            let digits = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == digits {
                return None;
            }
        }
        // `serde_json` reads a digit right after a lone leading `0` as an
        // error, and so does the caller here: the next token cannot start
        // with one.
        self.at = i;
        number_value(self.text.get(start..i)?)
    }
}

/// `10^0` to `10^22`, each exactly an `f64`.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of the number text `text` (already known to follow the
/// grammar), computed as `serde_json` (without `float_roundtrip`) computes
/// it: an integer that fits its `u64` or `i64`, else an `f64` made from a
/// `u64` significand and a power of ten. Numbers outside that simple case
/// (more than 19 digits, an exponent beyond 10^±22) are left to
/// `serde_json` itself, which also refuses those out of range.
pub(super) fn number_value(text: &str) -> Option<Number> {
    fast_number(text).or_else(|| serde_json::from_str::<Number>(text).ok())
}

fn fast_number(text: &str) -> Option<Number> {
    let bytes = text.as_bytes();
    let (negative, mut i) = match bytes.first() {
        Some(b'-') => (true, 1),
        _ => (false, 0),
    };
    let mut significand: u64 = 0;
    let mut float = false;
    let mut exponent: i32 = 0;
    while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
        significand = significand
            .checked_mul(10)?
            .checked_add(u64::from(b - b'0'))?;
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        float = true;
        i += 1;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            significand = significand
                .checked_mul(10)?
                .checked_add(u64::from(b - b'0'))?;
            exponent -= 1;
            i += 1;
        }
    }
    if let Some(b'e' | b'E') = bytes.get(i) {
        float = true;
        i += 1;
        let positive = match bytes.get(i) {
            Some(b'-') => {
                i += 1;
                false
            }
            Some(b'+') => {
                i += 1;
                true
            }
            _ => true,
        };
        let mut exp: i32 = 0;
        while let Some(&b) = bytes.get(i).filter(|b| b.is_ascii_digit()) {
            exp = exp.checked_mul(10)?.checked_add(i32::from(b - b'0'))?;
            i += 1;
        }
        exponent = if positive {
            exponent.saturating_add(exp)
        } else {
            exponent.saturating_sub(exp)
        };
    }
    if i != bytes.len() {
        return None;
    }
    if !float {
        if !negative {
            return Some(Number::from(significand));
        }
        // `serde_json` keeps a negative integer that fits an `i64` (as
        // `-significand`), and makes `-0` and the rest floats.
        let negated = (significand as i64).wrapping_neg();
        return if negated >= 0 {
            Number::from_f64(-(significand as f64))
        } else {
            Some(Number::from(negated))
        };
    }
    let power = *POW10.get(usize::try_from(exponent.unsigned_abs()).ok()?)?;
    let magnitude = significand as f64;
    let value = if exponent >= 0 {
        magnitude * power
    } else {
        magnitude / power
    };
    if value.is_infinite() {
        return None;
    }
    Number::from_f64(if negative { -value } else { value })
}
