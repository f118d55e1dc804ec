//! The TCP connector of upstream clients: awc's default, plus `TCP_NODELAY`
//! on every socket (without it, a request written in pieces meets Nagle's
//! algorithm and the peer's delayed ACK and can stall ~40 ms), and
//! [`CloseDelimited`] over the socket, so that a plain-HTTP upstream may end
//! a body by closing its connection.

use actix_service::Service;
use actix_tls::connect::{ConnectError, ConnectInfo, Connection, ConnectorService};
use actix_web::rt::net::{ActixStream, Ready};
use awc::http::Uri;
use bytes::BytesMut;
use futures_util::future::LocalBoxFuture;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Resolves and connects like awc's default connector, then sets
/// `TCP_NODELAY`.
#[derive(Clone, Default)]
pub struct NoDelay(ConnectorService);

impl Service<ConnectInfo<Uri>> for NoDelay {
    type Response = Connection<Uri, CloseDelimited<TcpStream>>;
    type Error = ConnectError;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_service::always_ready!();

    fn call(&self, req: ConnectInfo<Uri>) -> Self::Future {
        let connecting = self.0.call(req);
        Box::pin(async move {
            let conn = connecting.await?;
            // Best effort: a socket that refuses the option still works.
            let _ = conn.io_ref().set_nodelay(true);
            let (io, uri) = conn.into_parts();
            Ok(Connection::new(uri, CloseDelimited::new(io)))
        })
    }
}

/// The most of a response head looked at (actix refuses larger heads).
const MAX_HEAD: usize = 64 * 1024;

/// Makes actix-http read a response body that ends when the connection
/// closes. Such a body (HTTP/1.1, neither `Content-Length` nor
/// `Transfer-Encoding`: RFC 9112 §6.3) is read as empty by actix-http,
/// which reads to the close for HTTP/1.0 only; so the head of such a
/// response is passed on as HTTP/1.0 (same length, and the connection is
/// not reused, as the server closes it). Every other byte passes untouched.
///
/// It sits on the TCP socket, so it sees plain HTTP only: over TLS it sees
/// records (never `HTTP/`) and stays out of the way.
#[derive(Debug)]
pub struct CloseDelimited<Io> {
    io: Io,
    /// A request went out: the next bytes read start a response head.
    at_head: bool,
    /// Bytes read but not yet handed on (a head being looked at).
    buf: BytesMut,
}

impl<Io> CloseDelimited<Io> {
    /// Wraps `io`.
    pub fn new(io: Io) -> Self {
        Self {
            io,
            at_head: false,
            buf: BytesMut::new(),
        }
    }
}

/// What the start of a response says about its body.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// Not all of the head yet.
    Partial,
    /// Framed, not HTTP/1.1, no body, or not HTTP at all: pass it on.
    Keep,
    /// HTTP/1.1 with a body that ends at the close.
    ToClose,
}

/// Classifies the bytes read so far of a response.
fn classify(buf: &[u8]) -> Head {
    const VERSION: &[u8] = b"HTTP/1.1 ";
    let n = buf.len().min(VERSION.len());
    if buf[..n] != VERSION[..n] {
        return Head::Keep;
    }
    // The head ends at the first line feed followed by an empty line.
    let blank = |i: usize| matches!(&buf[i + 1..], [b'\n', ..] | [b'\r', b'\n', ..]);
    let end = memchr::memchr_iter(b'\n', buf).find(|&i| blank(i));
    let Some(end) = end else {
        return if buf.len() >= MAX_HEAD {
            Head::Keep
        } else {
            Head::Partial
        };
    };
    let head = &buf[..end];
    let status = std::str::from_utf8(head.get(9..12).unwrap_or_default())
        .ok()
        .and_then(|s| s.parse::<u16>().ok());
    if !status.is_some_and(|s| s >= 200 && s != 204 && s != 304) {
        return Head::Keep;
    }
    let framed = head.split(|&b| b == b'\n').skip(1).any(|line| {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        let name = name.trim_ascii();
        name.eq_ignore_ascii_case(b"content-length")
            || name.eq_ignore_ascii_case(b"transfer-encoding")
    });
    if framed {
        Head::Keep
    } else {
        Head::ToClose
    }
}

impl<Io: AsyncRead + Unpin> AsyncRead for CloseDelimited<Io> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at_head && this.buf.is_empty() && out.remaining() > 0 {
            // The usual case: the whole head arrives in one read, straight
            // into the caller's buffer, and is looked at there.
            let start = out.filled().len();
            ready!(Pin::new(&mut this.io).poll_read(cx, out))?;
            let read = &mut out.filled_mut()[start..];
            match classify(read) {
                _ if read.is_empty() => this.at_head = false,
                Head::Partial => {
                    // Kept back until the head is complete (below).
                    this.buf.extend_from_slice(read);
                    out.set_filled(start);
                }
                Head::Keep => this.at_head = false,
                Head::ToClose => {
                    read[7] = b'0';
                    this.at_head = false;
                }
            }
            if !this.at_head {
                return Poll::Ready(Ok(()));
            }
        }
        while this.at_head {
            let mut chunk = [0u8; 4096];
            let mut read = ReadBuf::new(&mut chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut read))?;
            if read.filled().is_empty() {
                // The end before the head did: hand on what there is.
                this.at_head = false;
                break;
            }
            this.buf.extend_from_slice(read.filled());
            match classify(&this.buf) {
                Head::Partial => {}
                Head::Keep => this.at_head = false,
                Head::ToClose => {
                    this.buf[7] = b'0';
                    this.at_head = false;
                }
            }
        }
        if this.buf.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, out);
        }
        let n = this.buf.len().min(out.remaining());
        out.put_slice(&this.buf.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl<Io: AsyncWrite + Unpin> AsyncWrite for CloseDelimited<Io> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.io).poll_write(cx, data))?;
        // awc reads a response whole before it sends the next request.
        this.at_head = true;
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, data))?;
        this.at_head = true;
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<Io: ActixStream> ActixStream for CloseDelimited<Io> {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        if self.buf.is_empty() || self.at_head {
            self.io.poll_read_ready(cx)
        } else {
            Poll::Ready(Ok(Ready::READABLE))
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<Ready>> {
        self.io.poll_write_ready(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn upstream_sockets_have_nodelay_set() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let uri: Uri = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let conn = NoDelay::default()
            .call(ConnectInfo::new(uri))
            .await
            .unwrap();
        assert!(conn.io_ref().io.nodelay().unwrap());
    }

    /// Reads handed out one piece per `poll_read`.
    struct Pieces(Vec<&'static [u8]>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            out: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if !self.0.is_empty() {
                out.put_slice(self.0.remove(0));
            }
            Poll::Ready(Ok(()))
        }
    }

    /// Everything read through a [`CloseDelimited`] after a request.
    fn read_through(pieces: Vec<&'static [u8]>) -> Vec<u8> {
        let mut io = CloseDelimited::new(Pieces(pieces));
        io.at_head = true;
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut all = Vec::new();
        loop {
            let mut buf = [0u8; 64];
            let mut out = ReadBuf::new(&mut buf);
            let polled = Pin::new(&mut io).poll_read(&mut cx, &mut out);
            assert!(matches!(polled, Poll::Ready(Ok(()))));
            if out.filled().is_empty() {
                return all;
            }
            all.extend_from_slice(out.filled());
        }
    }

    #[test]
    fn a_head_is_rewritten_whether_it_comes_in_one_read_or_in_pieces() {
        let head: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x";
        let want = b"HTTP/1.0 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x".to_vec();
        assert_eq!(read_through(vec![head]), want);
        assert_eq!(
            read_through(vec![&head[..20], &head[20..44], &head[44..]]),
            want
        );
        let framed: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(read_through(vec![framed]), framed);
        assert_eq!(read_through(vec![&framed[..5], &framed[5..]]), framed);
    }

    #[test]
    fn only_a_complete_http_1_1_head_with_a_body_and_no_framing_reads_to_the_close() {
        let cases: &[(&[u8], Head)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: x",
                Head::ToClose,
            ),
            (b"HTTP/1.1 200 OK\nConnection: close\n\n", Head::ToClose),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}",
                Head::Keep,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n",
                Head::Keep,
            ),
            (b"HTTP/1.1 204 No Content\r\n\r\n", Head::Keep),
            (b"HTTP/1.1 101 Switching\r\n\r\n", Head::Keep),
            (b"HTTP/1.0 200 OK\r\n\r\n", Head::Keep),
            (b"\x16\x03\x03", Head::Keep),
            (b"HTTP/1.", Head::Partial),
            (b"HTTP/1.1 200 OK\r\nContent-Type: a", Head::Partial),
        ];
        for (bytes, want) in cases {
            assert_eq!(classify(bytes), *want, "{}", String::from_utf8_lossy(bytes));
        }
    }
}
