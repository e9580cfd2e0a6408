//! A minimal blocking HTTP/1.1 client over a plain TCP connection, for the
//! receiver's tests, the demo sender and the load script: one request per
//! connection (`Connection: close`), loopback only.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response's status and body.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body, as text.
    pub body: String,
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
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status line in {head:?}")))?;
    Ok(Response {
        status,
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
    let address = loop {
        let line = lines
            .next()
            .ok_or_else(|| std::io::Error::other("the receiver exited before listening"))??;
        if let Some((_, rest)) = line.split_once("listening on ") {
            let address = rest.split_whitespace().next().unwrap_or_default();
            break address.parse().map_err(std::io::Error::other)?;
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok((child, address))
}
