//! The receiver's bounds: connections, buffered body bytes, the wait for an
//! instance (past each, `503 overloaded` with `Retry-After`), and the
//! lingering close that lets a client which sent a refused body read its
//! answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use switchboard_http::{Answer, Overload};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The receiver's bounds, each a `serve` flag. Past each, the answer is
/// `503 overloaded` with `Retry-After` (vendors retry).
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// The most connections held at once; past it a new connection is
    /// answered `503` at once and closed. Each may hold a request head of up
    /// to 400 KiB, so the default bounds heads in memory to 100 MiB.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_connections: usize,
    /// The most bytes of request bodies held at once, across requests (from
    /// the first byte read to the answer); a body that would pass it is
    /// answered `503` and its connection closed. At least the body limit.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    pub body_budget: usize,
    /// How many component instances may run at once (the pool's size; each
    /// may grow to 64 MiB of memory).
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub instances: u32,
    /// How long a delivery may wait for a free instance, in milliseconds,
    /// before it is answered `503`.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub instance_wait_ms: u64,
}

impl Limits {
    /// Refuses bounds that could never serve a delivery.
    pub fn check(&self, body_limit: usize) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.max_connections > 0,
            "--max-connections must be at least 1"
        );
        anyhow::ensure!(self.instances > 0, "--instances must be at least 1");
        anyhow::ensure!(
            self.body_budget >= body_limit,
            "--body-budget ({} bytes) is below the body limit ({body_limit} bytes): no full-size delivery could ever be read",
            self.body_budget
        );
        Ok(())
    }

    /// How long a delivery may wait for an instance.
    pub fn instance_wait(&self) -> Duration {
        Duration::from_millis(self.instance_wait_ms)
    }
}

/// The bytes of request bodies held across requests, bounded.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    held: AtomicUsize,
}

impl BodyBudget {
    /// An empty budget of `limit` bytes.
    pub fn new(limit: usize) -> BodyBudget {
        BodyBudget {
            limit,
            held: AtomicUsize::new(0),
        }
    }

    /// Whether `bytes` more would fit now.
    pub fn fits(&self, bytes: u64) -> bool {
        let free = self.limit.saturating_sub(self.held.load(Ordering::Relaxed));
        bytes <= free as u64
    }

    /// A charge of nothing yet, which gives back what it holds when dropped.
    pub fn charge(&self) -> Charge<'_> {
        Charge {
            budget: self,
            bytes: 0,
        }
    }

    /// The most bytes it holds.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The bytes held now.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

/// Bytes of one request's body held against the [`BodyBudget`].
#[derive(Debug)]
pub struct Charge<'b> {
    budget: &'b BodyBudget,
    bytes: usize,
}

impl Charge<'_> {
    /// Holds `bytes` more, or refuses (and holds nothing more) if the
    /// budget would pass its limit.
    pub fn add(&mut self, bytes: usize) -> Result<(), Answer> {
        let budget = self.budget;
        budget
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(bytes)
                    .filter(|&total| total <= budget.limit)
            })
            .map_err(|_| Answer::Overloaded(Overload::BodyBudget))?;
        self.bytes += bytes;
        Ok(())
    }
}

impl Drop for Charge<'_> {
    fn drop(&mut self) {
        self.budget.held.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// The most a closing connection reads and discards.
pub const LINGER_BYTES: usize = 4 << 20;
/// The longest a closing connection lingers.
pub const LINGER_TIME: Duration = Duration::from_secs(2);

/// A connection that closes lingering: when it is shut down (by hyper,
/// after its last answer), it sends what is buffered and its FIN, then
/// reads and discards what the client still sends, up to [`LINGER_BYTES`]
/// or [`LINGER_TIME`], before it is dropped. Closing with unread bytes would
/// reset the connection, and a client still writing a body the receiver
/// refused (a `413` without `Expect: 100-continue`) would see a broken pipe
/// instead of the answer. A client that has finished ends the linger at
/// once by closing its side.
#[derive(Debug)]
pub struct Lingering<S> {
    inner: S,
    linger: Option<Linger>,
}

#[derive(Debug)]
struct Linger {
    deadline: Pin<Box<tokio::time::Sleep>>,
    left: usize,
    shut: bool,
}

impl<S> Lingering<S> {
    /// `inner`, to be closed lingering.
    pub fn new(inner: S) -> Lingering<S> {
        Lingering {
            inner,
            linger: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Lingering<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Lingering<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let linger = this.linger.get_or_insert_with(|| Linger {
            deadline: Box::pin(tokio::time::sleep(LINGER_TIME)),
            left: LINGER_BYTES,
            shut: false,
        });
        if !linger.shut {
            // A client that already reset the connection ends it all the same.
            let _ = ready!(Pin::new(&mut this.inner).poll_shutdown(cx));
            linger.shut = true;
        }
        let mut scratch = [0u8; 8192];
        loop {
            if linger.left == 0 || linger.deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Ok(()));
            }
            let room = scratch.len().min(linger.left);
            let mut buf = ReadBuf::new(&mut scratch[..room]);
            match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut buf)) {
                Ok(()) if !buf.filled().is_empty() => linger.left -= buf.filled().len(),
                // The client closed its side (or broke the connection).
                Ok(()) | Err(_) => return Poll::Ready(Ok(())),
            }
        }
    }
}

/// Answers a connection past the connection limit: `503 overloaded` written
/// at once, without reading the request, then a lingering close. At most
/// `turning_away`'s permits of these run at once; past that a connection
/// is closed without an answer.
pub fn turn_away(stream: TcpStream, turning_away: &Arc<Semaphore>) {
    let Ok(permit) = Arc::clone(turning_away).try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let mut stream = Lingering::new(stream);
        let answer = http1_bytes(&Answer::Overloaded(Overload::Connections));
        let written = tokio::time::timeout(LINGER_TIME, stream.write_all(&answer)).await;
        if matches!(written, Ok(Ok(()))) {
            let _ = stream.shutdown().await;
        }
        drop(permit);
    });
}

/// An answer as HTTP/1.1 bytes, for a connection hyper does not serve.
fn http1_bytes(answer: &Answer) -> Vec<u8> {
    let response = answer.to_response();
    let status = response.status();
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        status.as_str(),
        status.canonical_reason().unwrap_or_default()
    );
    for (name, value) in response.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\n\r\n",
        response.body().len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(response.body().as_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_held_until_each_charge_drops() {
        let budget = BodyBudget::new(100);
        let mut one = budget.charge();
        one.add(60).unwrap();
        assert!(budget.fits(40) && !budget.fits(41));
        {
            let mut two = budget.charge();
            two.add(40).unwrap();
            assert_eq!(
                two.add(1),
                Err(Answer::Overloaded(Overload::BodyBudget)),
                "past the budget"
            );
            assert_eq!(budget.held(), 100, "a refused add holds nothing more");
        }
        assert_eq!(budget.held(), 60, "a dropped charge gives its bytes back");
        drop(one);
        assert_eq!(budget.held(), 0);
        assert!(budget.charge().add(usize::MAX).is_err(), "no overflow");
        assert_eq!(budget.held(), 0);
    }

    #[test]
    fn limits_that_could_never_serve_are_refused() {
        let limits = Limits {
            max_connections: 256,
            body_budget: 64 << 20,
            instances: 64,
            instance_wait_ms: 1000,
        };
        assert!(limits.check(1 << 20).is_ok());
        for broken in [
            Limits {
                body_budget: 1000,
                ..limits.clone()
            },
            Limits {
                max_connections: 0,
                ..limits.clone()
            },
            Limits {
                instances: 0,
                ..limits.clone()
            },
        ] {
            assert!(broken.check(1 << 20).is_err(), "{broken:?}");
        }
    }

    #[test]
    fn the_turned_away_answer_is_a_complete_http_response() {
        let bytes = http1_bytes(&Answer::Overloaded(Overload::Connections));
        let text = String::from_utf8(bytes).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(
            head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nretry-after: 2"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
        assert!(
            head.contains(&format!("\r\ncontent-length: {}", body.len())),
            "{head}"
        );
        assert!(body.contains(r#""error":"overloaded""#), "{body}");
    }

    #[tokio::test]
    async fn a_lingering_close_reads_what_the_client_still_sends() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = Lingering::new(server);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        let writer = tokio::spawn(async move {
            // More than the pipe holds: without the linger this would block.
            client_write.write_all(&[b'x'; 10_000]).await.unwrap();
            client_write.shutdown().await.unwrap();
        });
        server.write_all(b"answer").await.unwrap();
        server.shutdown().await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the client wrote everything: the server read it")
            .unwrap();
        let mut answer = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut client_read, &mut answer)
            .await
            .unwrap();
        assert_eq!(answer, "answer");
    }
}
