//! The ingest role's gRPC listener for `dd0c-agent`s (`DD0C_GRPC_LISTEN`): the service of
//! `functions/grpc` over this dispatcher's stores and admitter, with TLS when `DD0C_TLS_CERT`
//! and `DD0C_TLS_KEY` are given (else plain HTTP/2, for caddy's h2c in front).

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::serve::Dispatcher;

/// A PEM certificate chain and its key.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The certificate chain, PEM.
    pub cert: Vec<u8>,
    /// The private key, PEM.
    pub key: Vec<u8>,
}

/// Serves agents on `listener` until `shutdown`.
pub async fn serve(
    dispatcher: Dispatcher,
    listener: TcpListener,
    tls: Option<Tls>,
    shutdown: CancellationToken,
) -> Result<()> {
    dd0c_grpc::install_crypto();
    let backend = &dispatcher.backend;
    let service = dd0c_grpc::IngestService::new(
        backend.stores.tokens.clone(),
        backend.sources.clone(),
        dispatcher.admitter(),
    );
    let mut server = tonic::transport::Server::builder()
        .initial_stream_window_size(dd0c_grpc::STREAM_WINDOW)
        .initial_connection_window_size(dd0c_grpc::CONNECTION_WINDOW)
        .max_frame_size(dd0c_grpc::MAX_FRAME);
    if let Some(tls) = tls {
        server = server
            .tls_config(
                tonic::transport::ServerTlsConfig::new()
                    .identity(tonic::transport::Identity::from_pem(tls.cert, tls.key)),
            )
            .context("DD0C_TLS_CERT / DD0C_TLS_KEY")?;
    }
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
    server
        .add_service(service.server())
        .serve_with_incoming_shutdown(incoming, shutdown.cancelled_owned())
        .await
        .context("serving gRPC")
}
