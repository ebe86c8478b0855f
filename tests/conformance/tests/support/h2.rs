//! An HTTP/2 cleartext client with prior knowledge, on hyper.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{BodySource, Chunk, Head, Proto};

/// One h2c connection; dropping it closes the connection.
#[derive(Debug)]
pub(crate) struct Client {
    addr: SocketAddr,
    send: SendRequest<Empty<Bytes>>,
    connection: JoinHandle<()>,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Result<Self, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|err| format!("connect to {addr}: {err}"))?;
        tcp.set_nodelay(true).ok();
        let (send, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .map_err(|err| format!("h2c handshake with {addr}: {err}"))?;
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Self {
            addr,
            send,
            connection,
        })
    }

    /// Sends a GET with `Accept-Encoding: gzip, br` and the given headers
    /// (values as raw bytes) and waits for the response head.
    pub(crate) async fn get(
        &mut self,
        target: &str,
        headers: &[(&str, &[u8])],
    ) -> Result<Response, String> {
        let mut request = http::Request::get(format!("http://{}{target}", self.addr))
            .header("accept-encoding", "gzip, br")
            .body(Empty::<Bytes>::new())
            .map_err(|err| format!("build request {target}: {err}"))?;
        for &(name, value) in headers {
            let name =
                http::HeaderName::from_bytes(name.as_bytes()).map_err(|err| err.to_string())?;
            let value = http::HeaderValue::from_bytes(value).map_err(|err| err.to_string())?;
            request.headers_mut().append(name, value);
        }
        let sent_at = Instant::now();
        let response = self
            .send
            .send_request(request)
            .await
            .map_err(|err| format!("h2 request {target}: {err}"))?;
        let head_at = Instant::now();
        if response.version() != http::Version::HTTP_2 {
            return Err(format!("response version {:?}", response.version()));
        }
        let (parts, body) = response.into_parts();
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
            .collect();
        Ok(Response {
            head: Head {
                proto: Proto::Http2,
                status: parts.status.as_u16(),
                headers,
            },
            sent_at,
            head_at,
            body,
            ended: false,
        })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// A response on an h2 stream; dropping it resets the stream.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) head: Head,
    pub(crate) sent_at: Instant,
    pub(crate) head_at: Instant,
    body: Incoming,
    ended: bool,
}

impl BodySource for Response {
    /// The next DATA frame's bytes; `None` at `END_STREAM`, an error on a
    /// reset or a lost connection.
    async fn next_chunk(&mut self) -> Result<Option<Chunk>, String> {
        loop {
            if self.ended {
                return Ok(None);
            }
            match self.body.frame().await {
                None => {
                    self.ended = true;
                    return Ok(None);
                }
                Some(Ok(frame)) => {
                    let at = Instant::now();
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        return Ok(Some(Chunk {
                            data: data.to_vec(),
                            at,
                        }));
                    }
                }
                Some(Err(err)) => return Err(format!("h2 body ended with an error: {err}")),
            }
        }
    }

    fn head(&self) -> &Head {
        &self.head
    }

    fn head_at(&self) -> Instant {
        self.head_at
    }
}
