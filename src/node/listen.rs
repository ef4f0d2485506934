//! Where the node's server listens: an exact address, or (the desktop app)
//! the port it had last time, else the first free one of a small range; and
//! the URLs this machine's CLI reaches it by.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::server::{self, RunningServer, Served, ServerConfig, ServerError};
use crate::store::Store;

/// The port tried first by [`Listen::Remembered`], so that other Tandem
/// instances and tools find it; the next ones are tried when it is taken.
pub const DEFAULT_PORT: u16 = 7450;
/// How many ports from [`DEFAULT_PORT`] on are tried.
pub const PORT_ATTEMPTS: u16 = 20;
/// The setting that keeps the port of [`Listen::Remembered`] across launches
/// (peers and scripts rely on it).
pub const PORT_SETTING: &str = "desktop.port";

/// Where the server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// Exactly this address (port 0 picks a free one).
    Exactly(SocketAddr),
    /// On loopback: the port kept in the store from the last start, else the
    /// first free one of `127.0.0.1:7450..7470`; the port taken is kept.
    Remembered,
}

/// Binds the server as `listen` says; `served` builds what each attempt serves.
pub(super) async fn bind(
    listen: Listen,
    store: &dyn Store,
    config: impl Fn(SocketAddr) -> ServerConfig,
    served: impl Fn() -> Served,
) -> Result<RunningServer, ServerError> {
    let start = |addr| server::start(config(addr), served());
    let addr = match listen {
        Listen::Exactly(addr) => return start(addr).await,
        Listen::Remembered => store
            .get_setting(PORT_SETTING)
            .ok()
            .flatten()
            .and_then(|p| p.parse::<u16>().ok()),
    };
    let running = match addr {
        Some(port) => match start(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
            Ok(running) => Some(running),
            Err(e) => {
                tracing::warn!(port, error = %e, "the port of the last start is taken; trying the default ports");
                None
            }
        },
        None => None,
    };
    let running = match running {
        Some(running) => running,
        None => first_free(&start).await?,
    };
    let port = running.local_addr().port().to_string();
    if let Err(e) = store.put_setting(PORT_SETTING, Some(&port)) {
        tracing::warn!(error = %e, "cannot keep the server's port for the next start");
    }
    Ok(running)
}

async fn first_free<F, Fut>(start: &F) -> Result<RunningServer, ServerError>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = Result<RunningServer, ServerError>>,
{
    let mut port = DEFAULT_PORT;
    loop {
        match start(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
            Ok(running) => return Ok(running),
            Err(e) if port + 1 < DEFAULT_PORT + PORT_ATTEMPTS => {
                tracing::debug!(error = %e, "port taken, trying the next one");
                port += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The URLs this machine's CLI reaches `running` by: for a wildcard listen
/// (`0.0.0.0`, `[::]`), the loopback ones; with TLS, plain HTTP too (it is
/// served to loopback).
pub fn listening_urls(running: &RunningServer) -> Vec<String> {
    let addr = running.local_addr();
    let hosts = if addr.ip().is_unspecified() {
        vec![
            IpAddr::from(Ipv4Addr::LOCALHOST),
            IpAddr::from(Ipv6Addr::LOCALHOST),
        ]
    } else {
        vec![addr.ip()]
    };
    let schemes: &[&str] = if running.fingerprint().is_some() {
        &["https", "http"]
    } else {
        &["http"]
    };
    let mut urls = Vec::new();
    for scheme in schemes {
        for ip in &hosts {
            urls.push(format!("{scheme}://{}", SocketAddr::new(*ip, addr.port())));
        }
    }
    urls
}
