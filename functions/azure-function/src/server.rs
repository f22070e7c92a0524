//! The HTTP server: an accept loop over hyper that sheds abuse before it reaches the routes.
//!
//! - **Header read timeout** (`CADET_HEADER_TIMEOUT_SECS`, default 10): a client that has not
//!   sent a complete request head in time (slowloris), or leaves a keep-alive connection idle
//!   that long, is disconnected.
//! - **Body read timeout** (`CADET_BODY_TIMEOUT_SECS`, default 30): enforced by the routes while
//!   they read the body; a body that trickles in slower gets `408`.
//! - **Connection cap** (`CADET_MAX_CONNECTIONS`, default 512): a connection over the cap is
//!   answered `503` with `Retry-After` and closed at once, so open sockets stay bounded.
//! - **In-flight cap** (`CADET_MAX_IN_FLIGHT`, default 64): `POST` requests (`/detect`,
//!   `/eventgrid`, `/pubsub`, …) beyond it wait for a slot up to `CADET_QUEUE_TIMEOUT_MS`
//!   (default 2000; 0 = not at all), then get `503` with `Retry-After` (the Functions host,
//!   Event Grid and Pub/Sub retry 503). A request takes its slot before its body is read, so buffered bodies stay
//!   under `max_in_flight` × the route's body limit. `GET /healthz` is not counted, so health
//!   checks answer under load.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::ConfigError;

/// Bounds of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time to receive a complete request head.
    pub header_timeout: Duration,
    /// Time to receive a complete body.
    pub body_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
    /// Requests being processed at most (health checks excepted).
    pub max_in_flight: usize,
    /// How long a request waits for an in-flight slot before `503`.
    pub queue_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_in_flight: 64,
            queue_timeout: Duration::from_millis(2000),
        }
    }
}

impl ServerLimits {
    /// Reads `CADET_HEADER_TIMEOUT_SECS`, `CADET_BODY_TIMEOUT_SECS`, `CADET_MAX_CONNECTIONS`,
    /// `CADET_MAX_IN_FLIGHT` and `CADET_QUEUE_TIMEOUT_MS` (unset or empty = the default).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = ServerLimits::default();
        let range = |var: &'static str, default: u64, min: u64, max: u64| match get(var)
            .filter(|v| !v.trim().is_empty())
        {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(ConfigError {
                    var,
                    message: format!("{v:?} is not a whole number from {min} to {max}"),
                }),
            },
        };
        let num = |var, default, max| range(var, default, 1, max);
        Ok(ServerLimits {
            header_timeout: Duration::from_secs(num(
                "CADET_HEADER_TIMEOUT_SECS",
                d.header_timeout.as_secs(),
                3600,
            )?),
            body_timeout: Duration::from_secs(num(
                "CADET_BODY_TIMEOUT_SECS",
                d.body_timeout.as_secs(),
                3600,
            )?),
            max_connections: num("CADET_MAX_CONNECTIONS", d.max_connections as u64, 1 << 20)?
                as usize,
            max_in_flight: num("CADET_MAX_IN_FLIGHT", d.max_in_flight as u64, 1 << 20)? as usize,
            queue_timeout: Duration::from_millis(range(
                "CADET_QUEUE_TIMEOUT_MS",
                d.queue_timeout.as_millis() as u64,
                0,
                60_000,
            )?),
        })
    }
}

const OVERLOADED: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
retry-after: 1\r\nconnection: close\r\ncontent-length: 45\r\n\r\n\
{\"error\":\"too many connections; retry later\"}";

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets open
/// requests finish (10 s at most).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "connection cap reached; 503");
            tokio::spawn(async move {
                let mut stream = stream;
                let _ = tokio::time::timeout(Duration::from_secs(1), async {
                    let _ = stream.write_all(OVERLOADED).await;
                    let _ = stream.shutdown().await;
                })
                .await;
            });
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(Duration::from_secs(10), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still open 10 s after shutdown; stopping anyway");
    }
}
