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
//! Entries of objects and items of arrays are gathered on two stacks shared
//! by the whole document and moved into one allocation of the right size
//! when their object or array closes.

use std::borrow::Cow;

use serde_json::Number;

use super::{Object, Text, Value};

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

    /// The whole text as one document.
    pub(super) fn document(mut self) -> Parsed<Value<'a>> {
        // Room for the open objects' and arrays' members of most payloads,
        // so that the stacks rarely grow.
        self.entries.reserve(64);
        self.items.reserve(64);
        let value = self.value()?;
        self.skip_whitespace();
        if self.at == self.bytes.len() {
            Ok(value)
        } else {
            self.fail("trailing characters")
        }
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
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Parsed<Value<'a>> {
        self.skip_whitespace();
        match self.peek() {
            None => self.fail_read("EOF while parsing a value"),
            Some(b'"') => self.string().map(Value::String),
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            Some(_) => self.fail("expected value"),
        }
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

    fn object(&mut self) -> Parsed<Value<'a>> {
        self.enter()?;
        self.at += 1; // `{`
        let start = self.entries.len();
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
                self.skip_whitespace();
                match self.peek() {
                    Some(b':') => self.at += 1,
                    None => return self.fail_read("EOF while parsing an object"),
                    Some(_) => return self.fail("expected `:`"),
                }
                let value = self.value()?;
                self.entries.push((key, value));
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    None => return self.fail_read("EOF while parsing an object"),
                    Some(_) => return self.fail("expected `,` or `}`"),
                }
            }
        }
        self.depth -= 1;
        let entries: Vec<_> = self.entries.drain(start..).collect();
        Ok(Value::Object(Object { entries }))
    }

    fn array(&mut self) -> Parsed<Value<'a>> {
        self.enter()?;
        self.at += 1; // `[`
        let start = self.items.len();
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
                let item = self.value()?;
                self.items.push(item);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    None => return self.fail_read("EOF while parsing a list"),
                    Some(_) => return self.fail("expected `,` or `]`"),
                }
            }
        }
        self.depth -= 1;
        let items: Vec<_> = self.items.drain(start..).collect();
        Ok(Value::Array(items))
    }

    /// A string, borrowed from the text unless it has escapes. `at` is on
    /// its opening quote.
    fn string(&mut self) -> Parsed<Text<'a>> {
        self.at += 1;
        let start = self.at;
        let end = self.plain_run(start);
        self.at = end;
        match self.peek() {
            Some(b'"') => {
                self.at += 1;
                Ok(Cow::Borrowed(self.slice(start, end)))
            }
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
    /// it (see [`number_value`]).
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

/// `10^0` to `10^308` as `f64` literals, as `serde_json` has them.
#[rustfmt::skip]
const POW10: [f64; 309] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
    1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29,
    1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39,
    1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49,
    1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59,
    1e60, 1e61, 1e62, 1e63, 1e64, 1e65, 1e66, 1e67, 1e68, 1e69,
    1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79,
    1e80, 1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89,
    1e90, 1e91, 1e92, 1e93, 1e94, 1e95, 1e96, 1e97, 1e98, 1e99,
    1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109,
    1e110, 1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119,
    1e120, 1e121, 1e122, 1e123, 1e124, 1e125, 1e126, 1e127, 1e128, 1e129,
    1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136, 1e137, 1e138, 1e139,
    1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159,
    1e160, 1e161, 1e162, 1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169,
    1e170, 1e171, 1e172, 1e173, 1e174, 1e175, 1e176, 1e177, 1e178, 1e179,
    1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188, 1e189,
    1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199,
    1e200, 1e201, 1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209,
    1e210, 1e211, 1e212, 1e213, 1e214, 1e215, 1e216, 1e217, 1e218, 1e219,
    1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227, 1e228, 1e229,
    1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239,
    1e240, 1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249,
    1e250, 1e251, 1e252, 1e253, 1e254, 1e255, 1e256, 1e257, 1e258, 1e259,
    1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266, 1e267, 1e268, 1e269,
    1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289,
    1e290, 1e291, 1e292, 1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299,
    1e300, 1e301, 1e302, 1e303, 1e304, 1e305, 1e306, 1e307, 1e308,
];

/// The value of a number text that follows the grammar (the parser checks
/// it), computed exactly as `serde_json` (without `float_roundtrip`)
/// computes it: an integer that fits a `u64` (or, negative, an `i64`), else
/// an `f64` made from the first digits that fit a `u64` significand and a
/// power of ten. When `serde_json` refuses it as out of range, how much of
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
    let mut significand: u64 = 0;
    let mut exponent: i32 = 0;
    let mut is_float = false;
    // Integer digits past what a u64 holds only scale it.
    let mut long = false;
    while let Some(d) = digit(i) {
        if long || overflows(significand, d) {
            long = true;
            exponent = exponent.saturating_add(1);
        } else {
            significand = significand * 10 + d;
        }
        i += 1;
    }
    is_float |= long;
    if bytes.get(i) == Some(&b'.') {
        is_float = true;
        i += 1;
        // Fraction digits past what the significand holds are ignored.
        let mut ignoring = false;
        while let Some(d) = digit(i) {
            if ignoring || overflows(significand, d) {
                ignoring = true;
            } else {
                significand = significand * 10 + d;
                exponent = exponent.saturating_sub(1);
            }
            i += 1;
        }
    }
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
        exponent = if positive {
            exponent.saturating_add(exp)
        } else {
            exponent.saturating_sub(exp)
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
    let mut value = significand as f64;
    loop {
        match POW10.get(usize::try_from(exponent.unsigned_abs()).unwrap_or(usize::MAX)) {
            Some(&power) => {
                if exponent >= 0 {
                    value *= power;
                    if value.is_infinite() {
                        return Err(read);
                    }
                } else {
                    value /= power;
                }
                break;
            }
            None => {
                if value == 0.0 {
                    break;
                }
                if exponent >= 0 {
                    return Err(read);
                }
                value /= 1e308;
                exponent += 308;
            }
        }
    }
    float(if negative { -value } else { value }, read)
}
