//! Loopback HTTP/1.1 for the receiver's and the gateway's tests, the demo
//! sender and the load script: a minimal blocking client (one request per
//! connection, `Connection: close`), a launcher for `switchboard serve`, and
//! a downstream that records what is forwarded to it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response's status, head and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The status line and headers, as text.
    pub head: String,
    /// The body, as text.
    pub body: String,
}

impl Response {
    /// The value of the header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, value) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Sends one request and reads the whole response.
pub fn request(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<Response> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    // The server may answer (413) and close before reading a large body.
    let _ = stream.write_all(body);
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// A whole HTTP/1.1 response, as read up to the end of the connection.
pub fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    Ok(Response {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

/// Starts `switchboard serve` with `args` (which should include
/// `--listen 127.0.0.1:0`) and returns it with the address it logged. Its log
/// is drained in the background so it never blocks on a full pipe.
pub fn start_receiver(
    binary: &str,
    args: &[std::ffi::OsString],
) -> std::io::Result<(std::process::Child, SocketAddr)> {
    start_receiver_logged(binary, args).map(|(child, address, _)| (child, address))
}

/// [`start_receiver`], also handing over every line of its log (those
/// before `listening on` included), until it exits.
pub fn start_receiver_logged(
    binary: &str,
    args: &[std::ffi::OsString],
) -> std::io::Result<(
    std::process::Child,
    SocketAddr,
    std::sync::mpsc::Receiver<String>,
)> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(binary)
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| std::io::Error::other("no stderr"))?;
    let mut lines = BufReader::new(stderr).lines();
    let (log, logged) = std::sync::mpsc::channel();
    let address = loop {
        let line = lines
            .next()
            .ok_or_else(|| std::io::Error::other("the receiver exited before listening"))??;
        let listening = listening_address(&line);
        let _ = log.send(line);
        if let Some(address) = listening {
            break address.parse().map_err(std::io::Error::other)?;
        }
    };
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = log.send(line);
        }
    });
    Ok((child, address, logged))
}

/// [`start_receiver`], its log appended to the file `log` rather than piped
/// (as `2>>log` would), so that no reader wakes for each line; the address
/// is read from the file once the receiver has written it, within 30 s.
pub fn start_receiver_logging_to(
    binary: &str,
    args: &[std::ffi::OsString],
    log: &std::path::Path,
) -> std::io::Result<(std::process::Child, SocketAddr)> {
    use std::process::{Command, Stdio};
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    // Only what this start writes is searched for the address.
    let from = file.metadata()?.len() as usize;
    let mut child = Command::new(binary)
        .arg("serve")
        .args(args)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()?;
    let started = std::time::Instant::now();
    loop {
        let text = std::fs::read(log)?;
        let text = String::from_utf8_lossy(text.get(from..).unwrap_or_default());
        if let Some(address) = listening_address(&text) {
            return Ok((child, address.parse().map_err(std::io::Error::other)?));
        }
        if child.try_wait()?.is_some() || started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!(
                "the receiver did not listen; its log:\n{text}"
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The address in the first `listening on` line of a log, ending at a
/// space (text lines) or a quote (JSON lines).
fn listening_address(log: &str) -> Option<String> {
    log.lines().find_map(|line| {
        let (_, rest) = line.split_once("listening on ")?;
        rest.split(|c: char| c.is_whitespace() || c == '"')
            .next()
            .map(str::to_owned)
    })
}

/// One request a [`downstream`] received.
#[derive(Debug)]
pub struct Received {
    /// Which request it was, counting from 0.
    pub attempt: usize,
    /// The request line and headers.
    pub head: String,
    /// The body (by `Content-Length`).
    pub body: String,
}

/// A downstream on loopback: answers its `n`-th request (from 0) with the
/// status line `status(n)` (`"202 Accepted"`) and reports every request it
/// received. It serves at most 20 requests, each read within 10 s.
pub fn downstream(
    status: impl Fn(usize) -> &'static str + Send + 'static,
) -> (SocketAddr, std::sync::mpsc::Receiver<Received>) {
    downstream_answering(move |attempt| (status(attempt), ""))
}

/// [`downstream`], answering its `n`-th request with the status line and
/// body `answer(n)`.
pub fn downstream_answering(
    answer: impl Fn(usize) -> (&'static str, &'static str) + Send + 'static,
) -> (SocketAddr, std::sync::mpsc::Receiver<Received>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let address = listener.local_addr().expect("its address");
    let (report, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (attempt, stream) in listener.incoming().enumerate().take(20) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let (head, body) = read_request(&mut stream);
            let (status, reply) = answer(attempt);
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = stream.write_all(answer.as_bytes());
            let _ = report.send(Received {
                attempt,
                head,
                body,
            });
        }
    });
    (address, received)
}

/// Reads one request's head and its `Content-Length` body (empty strings if
/// the connection ends first).
fn read_request(stream: &mut TcpStream) -> (String, String) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let l = l.to_ascii_lowercase();
                    l.strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap_or(0))
                })
                .unwrap_or(0);
            if body.len() >= length {
                return (head.to_owned(), body.to_owned());
            }
        }
    }
    (String::new(), String::new())
}
