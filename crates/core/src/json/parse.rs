//! The parser: one pass over the text, building the tree directly.
//!
//! It accepts exactly what `serde_json` accepts (RFC 8259, at most 127
//! nested arrays and objects, paired `\u` surrogates, no control character
//! in a string, numbers `serde_json` can represent) and converts numbers as
//! `serde_json` converts them, so that a payload reads the same either way;
//! `json::tests` checks both against `serde_json` on every fixture body, on
//! thousands of mutations of them and on random numbers. Its errors name
//! what was wrong and where, in `serde_json`'s words.
//!
//! Every value read is pushed onto one stack shared by the whole document
//! (and every object key onto a second): an array's items, or an object's
//! keys and values, are moved off them into one allocation of the right size
//! when it closes.
//!
//! Values are not handed back through `Result`s: each copy of a 32-byte
//! value through one was a load of 16 bytes from where it had just been
//! written 8 at a time, which the processor cannot forward from those
//! stores and waits for (`perf annotate` put a third of the parse there).
//! For the same reason the common strings and numbers are read inline.

use std::borrow::Cow;

use serde_json::Number;

use super::{Object, Text, Value};

/// The members of `stack` from `start` on, moved out in one copy into a
/// vector of exactly their number; `stack` keeps its allocation.
/// (`split_off(0)` would hand over the stack's whole allocation instead,
/// and take a new one as large: once per small object after a large one,
/// a quadratic amount of memory for an array of them.)
fn take_from<T>(stack: &mut Vec<T>, start: usize) -> Vec<T> {
    if start == 0 {
        let mut all = Vec::with_capacity(stack.len());
        all.append(stack);
        all
    } else {
        stack.split_off(start)
    }
}

/// `serde_json`'s recursion limit: this many nested arrays and objects are
/// refused.
const DEPTH_LIMIT: usize = 128;

/// Why a text is not one JSON document, and where: the byte offset just
/// past the character at fault (as `serde_json` counts it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Fail {
    pub(super) reason: &'static str,
    pub(super) at: usize,
}

type Parsed<T> = Result<T, Fail>;

pub(super) struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    /// The values read and not yet moved into their array or object.
    values: Vec<Value<'a>>,
    /// The keys of the open objects' entries read so far.
    keys: Vec<Text<'a>>,
    /// Whether whitespace read so far held a line break (`\n` or `\r`).
    line_break: bool,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            bytes: text.as_bytes(),
            at: 0,
            depth: 0,
            values: Vec::new(),
            keys: Vec::new(),
            line_break: false,
        }
    }

    /// The whole text as one document, and whether it breaks a line (in
    /// whitespace between tokens, the only place a document can: a string
    /// holds a line break only escaped).
    pub(super) fn document(mut self) -> Parsed<(Value<'a>, bool)> {
        // Room for the open objects' and arrays' members of most payloads,
        // so that the stacks rarely grow.
        self.values.reserve(64);
        self.keys.reserve(32);
        self.value()?;
        self.skip_whitespace();
        if self.at != self.bytes.len() {
            return self.fail("trailing characters");
        }
        Ok((self.values.pop().unwrap_or_default(), self.line_break))
    }

    /// Refuses the character at `at` (or the end).
    fn fail<T>(&self, reason: &'static str) -> Parsed<T> {
        Err(Fail {
            reason,
            at: (self.at + 1).min(self.bytes.len()),
        })
    }

    /// Refuses what was read up to `at` (the end of the text, or a token
    /// read whole).
    fn fail_read<T>(&self, reason: &'static str) -> Parsed<T> {
        Err(Fail {
            reason,
            at: self.at.min(self.bytes.len()),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => {}
                Some(b'\n' | b'\r') => self.line_break = true,
                _ => return,
            }
            self.at += 1;
        }
    }

    /// One value, pushed onto `values`.
    fn value(&mut self) -> Parsed<()> {
        self.skip_whitespace();
        let value = match self.peek() {
            None => return self.fail_read("EOF while parsing a value"),
            Some(b'"') => Value::String(self.string()?),
            Some(b'{') => return self.object(),
            Some(b'[') => return self.array(),
            Some(b't') => self.literal(b"true", Value::Bool(true))?,
            Some(b'f') => self.literal(b"false", Value::Bool(false))?,
            Some(b'n') => self.literal(b"null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => Value::Number(self.number()?),
            Some(_) => return self.fail("expected value"),
        };
        self.values.push(value);
        Ok(())
    }

    fn literal(&mut self, word: &[u8], value: Value<'a>) -> Parsed<Value<'a>> {
        for &expected in word {
            match self.peek() {
                None => return self.fail_read("EOF while parsing a value"),
                Some(b) if b == expected => self.at += 1,
                Some(_) => return self.fail("expected ident"),
            }
        }
        Ok(value)
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth < DEPTH_LIMIT {
            Ok(())
        } else {
            self.fail("recursion limit exceeded")
        }
    }

    /// An object, pushed onto `values`.
    fn object(&mut self) -> Parsed<()> {
        self.enter()?;
        self.at += 1; // `{`
        let first_key = self.keys.len();
        let first_value = self.values.len();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            let mut first = true;
            loop {
                self.skip_whitespace();
                match self.peek() {
                    Some(b'"') => {}
                    Some(b'}') => return self.fail("trailing comma"),
                    None if first => return self.fail_read("EOF while parsing an object"),
                    None => return self.fail_read("EOF while parsing a value"),
                    Some(_) => return self.fail("key must be a string"),
                }
                first = false;
                let key = self.string()?;
                self.keys.push(key);
                self.skip_whitespace();
                match self.peek() {
                    Some(b':') => self.at += 1,
                    None => return self.fail_read("EOF while parsing an object"),
                    Some(_) => return self.fail("expected `:`"),
                }
                self.value()?;
                if self.closes(b'}', "EOF while parsing an object", "expected `,` or `}`")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        let entries = self
            .keys
            .drain(first_key..)
            .zip(self.values.drain(first_value..))
            .collect();
        self.values.push(Value::Object(Object { entries }));
        Ok(())
    }

    /// After a member or an item: past a `,` (false: another follows) or
    /// past `close` (true), else the error serde_json gives there.
    fn closes(&mut self, close: u8, at_end: &'static str, otherwise: &'static str) -> Parsed<bool> {
        self.skip_whitespace();
        match self.peek() {
            Some(b',') => {
                self.at += 1;
                Ok(false)
            }
            Some(byte) if byte == close => {
                self.at += 1;
                Ok(true)
            }
            None => self.fail_read(at_end),
            Some(_) => self.fail(otherwise),
        }
    }

    /// An array, pushed onto `values`.
    fn array(&mut self) -> Parsed<()> {
        self.enter()?;
        self.at += 1; // `[`
        let start = self.values.len();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            let mut first = true;
            loop {
                self.skip_whitespace();
                match self.peek() {
                    Some(b']') => return self.fail("trailing comma"),
                    None if first => return self.fail_read("EOF while parsing a list"),
                    None => return self.fail_read("EOF while parsing a value"),
                    Some(_) => {}
                }
                first = false;
                self.value()?;
                if self.closes(b']', "EOF while parsing a list", "expected `,` or `]`")? {
                    break;
                }
            }
        }
        self.depth -= 1;
        let items = take_from(&mut self.values, start);
        self.values.push(Value::Array(items));
        Ok(())
    }

    /// A string, borrowed from the text unless it has escapes. `at` is on
    /// its opening quote. (Inlined, see the module doc, with the rare case
    /// out of line.)
    #[inline(always)]
    fn string(&mut self) -> Parsed<Text<'a>> {
        self.at += 1;
        let start = self.at;
        let end = self.plain_run(start);
        self.at = end;
        if self.peek() == Some(b'"') {
            self.at += 1;
            Ok(Cow::Borrowed(self.slice(start, end)))
        } else {
            self.string_rest(start, end)
        }
    }

    /// The rest of a string whose first plain run (`start..end`, `at` at
    /// its end) is not all of it: escapes, or an error.
    #[inline(never)]
    fn string_rest(&mut self, start: usize, end: usize) -> Parsed<Text<'a>> {
        match self.peek() {
            Some(b'\\') => {
                let mut owned = String::with_capacity(end - start + 16);
                owned.push_str(self.slice(start, end));
                self.escaped(owned).map(Cow::Owned)
            }
            None => self.fail_read("EOF while parsing a string"),
            Some(_) => {
                self.fail("control character (\\u0000-\\u001F) found while parsing a string")
            }
        }
    }

    /// `text[start..end]`; both are where plain runs start and end, which
    /// are character boundaries.
    fn slice(&self, start: usize, end: usize) -> &'a str {
        self.text.get(start..end).unwrap_or_default()
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
    fn escaped(&mut self, mut owned: String) -> Parsed<String> {
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(owned);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(escape) = self.peek() else {
                        return self.fail_read("EOF while parsing a string");
                    };
                    self.at += 1;
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
                        _ => return self.fail_read("invalid escape"),
                    }
                }
                None => return self.fail_read("EOF while parsing a string"),
                Some(_) => {
                    let end = self.plain_run(self.at);
                    if end == self.at {
                        return self.fail(
                            "control character (\\u0000-\\u001F) found while parsing a string",
                        );
                    }
                    owned.push_str(self.slice(self.at, end));
                    self.at = end;
                }
            }
        }
    }

    /// The character of a `\u` escape (and of the `\u` escape that must
    /// follow a leading surrogate); `at` is after the `u`.
    fn unicode_escape(&mut self) -> Parsed<char> {
        let first = self.hex4()?;
        let code = match first {
            0xDC00..=0xDFFF => return self.fail_read("lone leading surrogate in hex escape"),
            0xD800..=0xDBFF => {
                for expected in [b'\\', b'u'] {
                    match self.peek() {
                        None => return self.fail_read("EOF while parsing a string"),
                        Some(b) if b == expected => self.at += 1,
                        Some(_) => return self.fail("unexpected end of hex escape"),
                    }
                }
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return self.fail_read("lone leading surrogate in hex escape");
                }
                0x1_0000 + ((first - 0xD800) << 10 | (second - 0xDC00))
            }
            other => other,
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail_read("invalid unicode code point"),
        }
    }

    fn hex4(&mut self) -> Parsed<u32> {
        let Some(digits) = self.bytes.get(self.at..self.at + 4) else {
            self.at = self.bytes.len();
            return self.fail_read("EOF while parsing a string");
        };
        self.at += 4;
        let code = digits
            .iter()
            .try_fold(0, |code, &b| Some(code << 4 | char::from(b).to_digit(16)?));
        match code {
            Some(code) => Ok(code),
            None => self.fail_read("invalid escape"),
        }
    }

    /// A number: its grammar checked here, its value as `serde_json` reads
    /// it (see [`number_value`]). (Inlined, see the module doc.)
    #[inline(always)]
    fn number(&mut self) -> Parsed<Number> {
        let start = self.at;
        let digits = |parser: &mut Self| {
            let from = parser.at;
            while parser.peek().is_some_and(|b| b.is_ascii_digit()) {
                parser.at += 1;
            }
            parser.at > from
        };
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.at += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return self.fail("invalid number");
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            None => return self.fail_read("EOF while parsing a value"),
            Some(_) => return self.fail("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !digits(self) {
                return match self.peek() {
                    None => self.fail_read("EOF while parsing a value"),
                    Some(_) => self.fail("invalid number"),
                };
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if !digits(self) {
                return match self.peek() {
                    None => self.fail_read("EOF while parsing a value"),
                    Some(_) => self.fail("invalid number"),
                };
            }
        }
        match number_value(self.slice(start, self.at)) {
            Ok(number) => Ok(number),
            Err(read) => {
                // `serde_json` stops where it saw the number out of range.
                self.at = start + read;
                self.fail_read("number out of range")
            }
        }
    }
}

/// `text` as one JSON number (the whole of it, nothing around it), read as
/// `serde_json` reads it: what `serde_json::Number::from_str` gives.
pub(super) fn whole_number(text: &str) -> Option<Number> {
    let mut parser = Parser::new(text);
    match parser.bytes.first()? {
        b'-' | b'0'..=b'9' => {}
        _ => return None,
    }
    let number = parser.number().ok()?;
    (parser.at == text.len()).then_some(number)
}

/// The value of a number text that follows the grammar (the parser checks
/// it), as `serde_json` (with `float_roundtrip`, the workspace's setting)
/// reads it: an integer that fits a `u64` (or, negative, an `i64`), else the
/// nearest `f64`. When `serde_json` refuses it as out of range, how much of
/// the text it had read.
pub(super) fn number_value(text: &str) -> Result<Number, usize> {
    // A float is always finite here, so a number always results.
    let float = |value: f64, read: usize| Number::from_f64(value).ok_or(read);
    /// `serde_json`'s `overflow!(significand * 10 + digit, u64::MAX)`.
    fn overflows(significand: u64, digit: u64) -> bool {
        significand >= u64::MAX / 10 && (significand > u64::MAX / 10 || digit > u64::MAX % 10)
    }
    let bytes = text.as_bytes();
    let (negative, mut i) = match bytes.first() {
        Some(b'-') => (true, 1),
        _ => (false, 0),
    };
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| u64::from(b - b'0'))
    };
    // The digits that fit a u64: the integer's value, and whether a float
    // is zero (which an exponent too large to read does not make infinite).
    let mut significand: u64 = 0;
    // An integer too long for a u64 is a float.
    let mut is_float = false;
    // Whether every digit is in `significand`, and how many of them came
    // after the point.
    let mut exact = true;
    let mut fraction_digits: i64 = 0;
    while let Some(d) = digit(i) {
        if is_float || overflows(significand, d) {
            is_float = true;
            exact = false;
        } else {
            significand = significand * 10 + d;
        }
        i += 1;
    }
    if bytes.get(i) == Some(&b'.') {
        is_float = true;
        i += 1;
        let mut ignoring = false;
        while let Some(d) = digit(i) {
            if ignoring || overflows(significand, d) {
                ignoring = true;
                exact = false;
            } else {
                significand = significand * 10 + d;
                fraction_digits += 1;
            }
            i += 1;
        }
    }
    // The power of ten `significand` is multiplied by.
    let mut decimal_exponent = -fraction_digits;
    if let Some(b'e' | b'E') = bytes.get(i) {
        is_float = true;
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
        // Where `serde_json` stops, past the digit that overflows.
        let mut exp_overflow = None;
        while let Some(d) = digit(i) {
            let d = i32::try_from(d).unwrap_or(0);
            if exp_overflow.is_none()
                && exp >= i32::MAX / 10
                && (exp > i32::MAX / 10 || d > i32::MAX % 10)
            {
                exp_overflow = Some(i + 1);
            }
            if exp_overflow.is_none() {
                exp = exp * 10 + d;
            }
            i += 1;
        }
        if let Some(read) = exp_overflow {
            // Out of range, unless it makes the number zero.
            if significand != 0 && positive {
                return Err(read);
            }
            return float(if negative { -0.0 } else { 0.0 }, read);
        }
        decimal_exponent += if positive {
            i64::from(exp)
        } else {
            -i64::from(exp)
        };
    }
    let read = text.len();
    if !is_float {
        if !negative {
            return Ok(Number::from(significand));
        }
        // A negative integer stays one if it fits an `i64`; `-0` and those
        // that do not are floats.
        let negated = (significand as i64).wrapping_neg();
        return if negated >= 0 {
            float(-(significand as f64), read)
        } else {
            Ok(Number::from(negated))
        };
    }
    // serde_json with `float_roundtrip` (the workspace's setting) reads a
    // float correctly rounded, as the standard library does; one too large
    // for an `f64` is out of range. Most floats in payloads (3.5, 1234.56)
    // take Clinger's fast path, as the standard library's parse first
    // does, without reading the text again: a significand and a power of
    // ten that are both exact as `f64`s make a correctly rounded result in
    // one multiplication or division.
    const EXACT_POWERS: [f64; 23] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];
    let power = usize::try_from(decimal_exponent.unsigned_abs())
        .ok()
        .and_then(|i| EXACT_POWERS.get(i));
    if let Some(&power) = power
        && exact
        && significand <= 1 << 53
    {
        let magnitude = significand as f64;
        let value = if decimal_exponent < 0 {
            magnitude / power
        } else {
            magnitude * power
        };
        return float(if negative { -value } else { value }, read);
    }
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => float(value, read),
        _ => Err(read),
    }
}
