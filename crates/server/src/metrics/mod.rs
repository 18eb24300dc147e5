//! `-o metrics_listen=HOST:PORT`: Prometheus metrics over HTTP, `GET /metrics`.
//!
//! ```text
//! $ curl -s http://127.0.0.1:9150/metrics
//! # HELP memcached_commands_total Total number of all requests broken down by command (get, set, etc.) and status.
//! # TYPE memcached_commands_total counter
//! memcached_commands_total{command="get",status="hit"} 12
//! ...
//! ```
//!
//! What it serves: memcached_exporter's metrics (see [`exporter`]), made from the pairs the
//! `stats` commands serve, and ferrocache's own, under `ferrocache_`: per-command latency
//! histograms (see [`latency`]).

mod encode;
mod exporter;
mod http;
pub(crate) mod latency;

use crate::listen::{strerror, BindError};
use crate::Shared;
pub(crate) use latency::{Laps, Latency, Op, Proto};
use std::sync::Arc;

/// The listener of `-o metrics_listen`, bound by [`bind`], served by [`serve`].
pub(crate) struct MetricsListener {
    listener: tokio::net::TcpListener,
}

/// memcached's exit code when a listener cannot be made (`EX_OSERR`).
const EX_OSERR: i32 = 71;

/// Binds `-o metrics_listen`'s address. A failure is a [`BindError`] with memcached's exit
/// code for a listener it cannot make (71), as for the cache's own ports.
pub(crate) async fn bind(addr: &str) -> Result<MetricsListener, BindError> {
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => {
            if let Ok(local) = listener.local_addr() {
                tracing::info!("metrics on http://{local}/metrics");
            }
            Ok(MetricsListener { listener })
        }
        Err(e) => Err(BindError {
            message: format!(
                "failed to listen on metrics_listen {addr}: {}",
                strerror(&e)
            ),
            exit_code: EX_OSERR,
        }),
    }
}

/// Serves `/metrics` until the server stops; see [`http`].
pub(crate) async fn serve(listener: MetricsListener, shared: Arc<Shared>) {
    http::serve(listener.listener, shared).await;
}

/// HELP of the latency histograms.
const LATENCY_HELP: &str = "Time ferrocache took to parse and execute a request, until its \
reply was queued (not written), by command group and protocol.";

/// The body of `GET /metrics`: the exporter's metrics, then ferrocache's.
pub(crate) fn scrape(shared: &Shared) -> String {
    let mut out = encode::Exposition::default();
    let mut general = Vec::new();
    let mut slabs = Vec::new();
    let mut items = Vec::new();
    let mut settings = Vec::new();
    crate::stats::general(shared, &mut general);
    crate::stats::slabs(shared, &mut slabs);
    crate::stats::items(shared, &mut items);
    crate::stats::settings(shared, &mut settings);
    exporter::add(&mut out, &general, &slabs, &items, &settings);
    if let Some(latency) = &shared.latency {
        for snap in latency.snapshot() {
            out.histogram(
                "ferrocache_command_duration_seconds",
                LATENCY_HELP,
                &[
                    ("command", snap.op.label()),
                    ("protocol", snap.proto.label()),
                ],
                snap.histogram(),
            );
        }
    }
    out.encode()
}
