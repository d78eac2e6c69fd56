//! The ingest role's gRPC listener for `dd0c-agent`s (`DD0C_GRPC_LISTEN`): the service of
//! `functions/grpc` over this dispatcher's stores and admitter, with TLS when `DD0C_TLS_CERT`
//! and `DD0C_TLS_KEY` are given (else plain HTTP/2, for caddy's h2c in front).
//!
//! Held to the HTTP listener's limits ([`Limits`]), since anyone who can reach the port can
//! open connections: at most [`Limits::max_connections`] at once (past that, new ones wait in
//! the kernel's backlog), a connection that sends nothing within [`Limits::handshake_timeout`]
//! of its start (TLS or HTTP/2 preface) or within [`Limits::idle_timeout`] later is closed, and
//! each connection carries at most [`Limits::max_streams`] calls at once. Agents reconnect by
//! themselves, so closing an idle one costs them nothing.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::serve::Dispatcher;

/// A PEM certificate chain and its key.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The certificate chain, PEM.
    pub cert: Vec<u8>,
    /// The private key, PEM.
    pub key: Vec<u8>,
}

/// What one client may hold of the gRPC listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a new connection's first bytes (its TLS or HTTP/2 handshake) to arrive.
    pub handshake_timeout: Duration,
    /// Time a connection may send nothing before it is closed.
    pub idle_timeout: Duration,
    /// Calls one connection may carry at once.
    pub max_streams: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_streams: 16,
        }
    }
}

/// How often the kernel probes a silent peer, so a vanished agent's connection is noticed.
const TCP_KEEPALIVE: Duration = Duration::from_secs(60);

/// Largest header block a call may send (its metadata is a bearer token and a few names).
const MAX_HEADER_LIST: u32 = 16 << 10;

/// Serves agents on `listener` until `shutdown`.
pub async fn serve(
    dispatcher: Dispatcher,
    listener: TcpListener,
    tls: Option<Tls>,
    shutdown: CancellationToken,
) -> Result<()> {
    dd0c_grpc::install_crypto();
    let limits = dispatcher.config.grpc;
    let backend = &dispatcher.backend;
    let service = dd0c_grpc::IngestService::new(
        backend.stores.tokens.clone(),
        backend.sources.clone(),
        dispatcher.admitter(),
    );
    let mut server = tonic::transport::Server::builder()
        .initial_stream_window_size(dd0c_grpc::STREAM_WINDOW)
        .initial_connection_window_size(dd0c_grpc::CONNECTION_WINDOW)
        .max_frame_size(dd0c_grpc::MAX_FRAME)
        .max_concurrent_streams(limits.max_streams.max(1))
        .http2_max_header_list_size(MAX_HEADER_LIST);
    if let Some(tls) = tls {
        server = server
            .tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(tonic::transport::Identity::from_pem(tls.cert, tls.key)),
            )
            .context("DD0C_TLS_CERT / DD0C_TLS_KEY")?;
    }
    server
        .add_service(service.server())
        .serve_with_incoming_shutdown(
            incoming(listener, limits, shutdown.clone()),
            shutdown.cancelled_owned(),
        )
        .await
        .context("serving gRPC")
}

/// The connections `listener` accepts while a permit is free, each held to `limits`.
fn incoming(
    listener: TcpListener,
    limits: Limits,
    shutdown: CancellationToken,
) -> impl futures_util::Stream<Item = std::io::Result<Guarded>> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    futures_util::stream::unfold(listener, move |listener| {
        let (permits, shutdown) = (permits.clone(), shutdown.clone());
        async move {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => return None,
                permit = permits.acquire_owned() => permit.ok()?,
            };
            loop {
                let accepted = tokio::select! {
                    _ = shutdown.cancelled() => return None,
                    accepted = listener.accept() => accepted,
                };
                match accepted {
                    Ok((stream, _)) => {
                        let guarded = Guarded::new(stream, permit, limits);
                        return Some((Ok(guarded), listener));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: pause rather than spin.
                        tracing::warn!(error = %e, "accepting a gRPC connection failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
    })
}

/// An accepted connection holding its permit, closed (a read fails with `TimedOut`) when the
/// peer sends nothing within its deadline.
#[derive(Debug)]
pub struct Guarded {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Guarded {
    fn new(stream: TcpStream, permit: OwnedSemaphorePermit, limits: Limits) -> Self {
        let _ = stream.set_nodelay(true);
        let keepalive = socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE);
        let _ = socket2::SockRef::from(&stream).set_tcp_keepalive(&keepalive);
        Guarded {
            stream,
            _permit: permit,
            idle: limits.idle_timeout,
            deadline: Box::pin(tokio::time::sleep(limits.handshake_timeout)),
        }
    }
}

impl Connected for Guarded {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the peer sent nothing in time",
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
