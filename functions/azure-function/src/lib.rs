//! cadet-azure-function: the Azure half of cadet, an Azure Functions custom handler.
//!
//! The Functions host runs the `cadet-azure` binary (see `host.json`) and forwards each Event
//! Grid event of the subscription's Azure Resource Manager system topic to `POST /detect` (the
//! function `detect`, `detect/function.json`). The same binary also takes Event Grid
//! deliveries directly on `POST /eventgrid`, for deployments without the Functions host, and
//! Google Cloud Pub/Sub push deliveries of Cloud Audit Log entries on `POST /pubsub` (OIDC
//! token checked, fail closed). Without the Functions host (`FUNCTIONS_CUSTOMHANDLER_PORT`
//! unset) it listens on `PORT` on every address, as a Cloud Run service (`Dockerfile`).
//!
//! - [`config`]: environment → validated [`config::Config`], read once at start.
//! - [`handler`]: the shared pipeline (`cadet_pipeline`): normalize → enrich → assess →
//!   publish alerts to every sink → record; never drops a finding silently.
//! - [`enrich`]: what managed run commands, extensions and runbooks run, read from ARM.
//! - [`event_hubs`]: the `endpoint` function's Event Hubs batches (host records) → records.
//! - [`routes`]: the HTTP contract (payload shapes, handshakes, auth, limits, status codes).
//! - [`pubsub`]: the Pub/Sub push route's settings, signing keys (JWKS file or URL, refreshed)
//!   and envelope; [`oidc`]: the token checks themselves, pure.
//! - [`server`]: the accept loop: header/body timeouts, connection and in-flight caps.
//! - [`store`]: the configured baseline store (memory or Azure Table).
//! - [`archive`]: Activity Log archive blobs (`POST /archive`): only the bytes appended since
//!   the last read, the offset kept per blob in the state store.
//! - [`telemetry`]: tracing setup.
//!
//! `main.rs` only wires these together.
#![deny(missing_docs)]

pub mod archive;
pub mod config;
pub mod enrich;
pub mod event_hubs;
pub mod handler;
pub mod oidc;
pub mod pubsub;
pub mod routes;
pub mod server;
pub mod store;
pub mod telemetry;

use std::sync::Arc;

use anyhow::Context;
use cadet_sinks::{SentinelSink, Sink, StdoutSink, SumoSink, WebhookSink};

use crate::config::{Config, SinkKind};

/// Builds the configured sinks (once, at start-up).
pub fn build_sinks(config: &Config) -> anyhow::Result<Vec<Arc<dyn Sink>>> {
    let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
    for kind in &config.sinks {
        match kind {
            SinkKind::Stdout => sinks.push(Arc::new(StdoutSink::new())),
            SinkKind::Webhook => {
                let cfg = config
                    .webhook
                    .clone()
                    .context("CADET_WEBHOOK_URL: the webhook sink is not configured")?;
                sinks.push(Arc::new(WebhookSink::new(cfg)?));
            }
            SinkKind::Sentinel => {
                let cfg = config
                    .sentinel
                    .clone()
                    .context("CADET_SENTINEL_ENDPOINT: the sentinel sink is not configured")?;
                sinks.push(Arc::new(SentinelSink::new(cfg)?));
            }
            SinkKind::Sumo => {
                let cfg = config
                    .sumo
                    .clone()
                    .context("CADET_SUMO_URL: the sumo sink is not configured")?;
                sinks.push(Arc::new(SumoSink::new(cfg)?));
            }
        }
    }
    Ok(sinks)
}

/// Opens the store, builds the sinks and the app.
pub async fn build_app(config: &Config) -> anyhow::Result<Arc<routes::App<store::StateStore>>> {
    let store = store::StateStore::open(&config.state)
        .await
        .with_context(|| format!("CADET_STATE: opening the {} store", config.state.kind()))?;
    let sinks = build_sinks(config)?;
    let mut detector = handler::Detector::new(store, config.policy.clone(), sinks)
        .with_approvals(config.approvals.clone());
    if let Some(arm) = &config.arm {
        let token = enrich::CredentialToken::managed_identity(arm.client_id.clone())
            .map_err(anyhow::Error::msg)
            .context("CADET_ENRICH_ARM: the managed identity")?;
        let enricher = enrich::ArmEnricher::new(
            arm.endpoint.as_str(),
            Arc::new(token),
            enrich::ARM_REQUEST_TIMEOUT,
        )
        .map_err(anyhow::Error::msg)?;
        detector = detector.with_enrichers(vec![Arc::new(enricher)]);
    }
    let mut app = routes::App::new(detector, config.auth_key.clone(), config.state.kind())
        .with_limits(config.server)
        .with_host_routes(config.host_routes);
    if let Some(pubsub) = &config.pubsub {
        let auth = pubsub::PubsubAuth::new(pubsub).context("CADET_PUBSUB_JWKS_URL")?;
        auth.prefetch().await;
        app = app.with_pubsub(Arc::new(auth));
    }
    if let Some(archive) = &config.archive {
        let offsets = match &config.state {
            config::StateConfig::Memory => archive::Offsets::Memory(Default::default()),
            config::StateConfig::AzureTable { table, connection } => archive::Offsets::Table(
                cadet_state::azure_table::AzureTableStore::new(connection.clone(), table)?,
            ),
        };
        app = app.with_archive(Arc::new(
            archive::Archive::new(archive, offsets).map_err(anyhow::Error::msg)?,
        ));
    }
    Ok(Arc::new(app))
}

/// Binds `bind:port` and serves until SIGTERM or Ctrl-C.
pub async fn serve(config: Config, started: std::time::Instant) -> anyhow::Result<()> {
    let app = build_app(&config).await?;
    let addr = std::net::SocketAddr::new(config.bind, config.port);
    let port_var = if std::env::var_os("FUNCTIONS_CUSTOMHANDLER_PORT").is_some() {
        "FUNCTIONS_CUSTOMHANDLER_PORT"
    } else {
        "PORT"
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("{port_var}: cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    if config.pubsub.is_none() {
        let ignored = pubsub::PubsubConfig::ignored_settings(|k| std::env::var(k).ok());
        if ignored.is_empty() {
            tracing::info!("POST /pubsub answers 401: CADET_PUBSUB_AUDIENCE is not set");
        } else {
            tracing::warn!(
                ignored = ?ignored,
                "POST /pubsub answers 401: CADET_PUBSUB_AUDIENCE is not set, so the other \
                 CADET_PUBSUB_* settings are ignored"
            );
        }
    }
    if !config.host_routes {
        tracing::info!(
            "the Functions host routes (/detect, /endpoint, /archive, /archive-queue, \
             /health-check) are not served: no FUNCTIONS_CUSTOMHANDLER_PORT and a \
             non-loopback address"
        );
    }
    tracing::info!(
        address = %local,
        state = config.state.kind(),
        sinks = ?app.detector.sink_names(),
        policy = %config.policy_source,
        direct_eventgrid = config.auth_key.is_some(),
        pubsub_audience = app.pubsub.as_ref().map(|p| p.audience()),
        host_routes = config.host_routes,
        arm_enrichment = config.arm.is_some(),
        startup_ms = started.elapsed().as_secs_f64() * 1000.0,
        "cadet-azure listening"
    );
    server::serve(listener, routes::router(app), config.server, shutdown()).await;
    tracing::info!("cadet-azure stopped");
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
