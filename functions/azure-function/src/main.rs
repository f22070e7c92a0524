//! `cadet-azure`: wiring only — tracing, configuration (once), then serve.

use std::process::ExitCode;

use cadet_azure_function::{config::Config, serve, telemetry};

#[tokio::main]
async fn main() -> ExitCode {
    let started = std::time::Instant::now();
    telemetry::init();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(variable = e.var, "invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    match serve(config, started).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("cadet-azure failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}
