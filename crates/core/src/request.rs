//! One webhook delivery as the core sees it: borrowed headers and raw bytes.

/// A delivery: its headers (names matched case-insensitively) and the raw
/// body bytes exactly as received.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    headers: Vec<(&'a str, &'a str)>,
    body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request from `(name, value)` header pairs and the raw body.
    pub fn new(headers: impl IntoIterator<Item = (&'a str, &'a str)>, body: &'a [u8]) -> Self {
        Request {
            headers: headers.into_iter().collect(),
            body,
        }
    }

    /// The raw body.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The value of the first header called `name`, in any case.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers_named(name).next()
    }

    /// The values of every header called `name`, in any case, in order.
    pub fn headers_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Whether a header called `name` is present.
    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_case_insensitive() {
        let request = Request::new(
            [("X-Varda-Signature", "a"), ("x-varda-signature", "b")],
            b"",
        );
        assert_eq!(request.header("x-VARDA-signature"), Some("a"));
        assert_eq!(
            request
                .headers_named("X-VARDA-SIGNATURE")
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert!(!request.has_header("webhook-id"));
    }
}
