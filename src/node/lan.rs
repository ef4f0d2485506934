//! The node on the local network, on demand (the desktop app): a TLS
//! listener beyond loopback that serves the same documents (under their
//! share policies), advertised by mDNS, running only while a document is
//! shared (`lan` or `link`) or the user turned LAN presence on. The rule is
//! re-checked whenever the document list changes.

use std::net::SocketAddr;
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::discovery::lan::{advertise, Presence};
use crate::discovery::mdns::Mdns;
use crate::discovery::peers::Peers;
use crate::server::{self, RunningServer, ServerConfig, ServerOptions};
use crate::service::{Service, ServiceEvent};
use crate::store::StoreError;
use crate::tls::Identity;

const ENABLED_KEY: &str = "lan/enabled";
const DISCOVERY_KEY: &str = "lan/mdns";
const NAME_KEY: &str = "peer/name";

/// What the UI shows about LAN presence.
#[derive(Debug, Clone, Serialize)]
pub struct LanStatus {
    /// Whether the user turned LAN presence on (beyond what sharing asks for).
    pub enabled: bool,
    /// Whether mDNS discovery is on (advertise and find peers) while on the LAN.
    pub discovery: bool,
    /// The name other peers see.
    pub name: String,
    /// Whether the node listens on the LAN now.
    pub listening: bool,
    /// The LAN URL, when listening.
    pub url: Option<String>,
    /// `url` with this machine's LAN address in place of `0.0.0.0`: what
    /// links to share ("Copy link") use.
    pub link_url: Option<String>,
    /// Who we are on the network, when advertised.
    pub presence: Option<Presence>,
    /// This instance's certificate fingerprint (what peers pin).
    pub fingerprint: String,
}

/// What the user may change (each field optional).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct LanSettings {
    /// Stay on the LAN even with nothing shared.
    pub enabled: Option<bool>,
    /// Advertise and discover peers by mDNS.
    pub discovery: Option<bool>,
    /// The name other peers see.
    pub name: Option<String>,
}

/// A running LAN listener, advertised unless mDNS is off.
struct Listener {
    server: RunningServer,
    mdns: Option<Mdns>,
    presence: Option<Presence>,
    feed: CancellationToken,
}

impl Listener {
    /// Goodbye on mDNS first, then the listener drains its streams.
    async fn stop(self) {
        if let Some(mdns) = self.mdns {
            mdns.shutdown().await;
        }
        self.feed.cancel();
        self.server.shutdown().await;
    }
}

/// Starts and stops the LAN listener as sharing changes.
pub(super) struct Lan {
    service: Arc<Service>,
    peers: Arc<Peers>,
    identity: Identity,
    listen: SocketAddr,
    max_upload: usize,
    running: Mutex<Option<Listener>>,
    watch: std::sync::Mutex<Option<(CancellationToken, JoinHandle<()>)>>,
}

impl Lan {
    /// LAN presence for `service`, listening on `listen` when needed.
    pub(super) fn new(
        service: Arc<Service>,
        peers: Arc<Peers>,
        identity: Identity,
        listen: SocketAddr,
        max_upload: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            service,
            peers,
            identity,
            listen,
            max_upload,
            running: Mutex::new(None),
            watch: std::sync::Mutex::new(None),
        })
    }

    fn setting(&self, key: &str) -> Option<String> {
        self.service.hub().store().get_setting(key).ok().flatten()
    }

    fn enabled(&self) -> bool {
        self.setting(ENABLED_KEY).as_deref() == Some("true")
    }

    /// mDNS is on unless the user switched it off (or `TANDEM_NO_MDNS`).
    fn discovery(&self) -> bool {
        self.setting(DISCOVERY_KEY).as_deref() != Some("false")
            && !crate::discovery::disabled_by_env()
    }

    /// On the LAN iff enabled or something is shared.
    fn wanted(&self) -> bool {
        self.enabled()
            || self
                .service
                .list_docs()
                .map(|docs| docs.iter().any(|d| d.share.allows_peers()))
                .unwrap_or(false)
    }

    async fn start_listener(&self) -> Result<Listener, super::NodeError> {
        let served = super::served_by(&self.service, self.max_upload);
        let server = server::start(
            ServerConfig {
                listen: self.listen,
                tls: Some(self.identity.clone()),
                options: ServerOptions::default(),
            },
            served,
        )
        .await?;
        let feed = CancellationToken::new();
        let (mdns, presence) = if self.discovery() {
            let store = self.service.hub().store().clone();
            match advertise(
                &self.peers,
                store.as_ref(),
                None,
                server.local_addr().port(),
                self.identity.fingerprint(),
                feed.clone(),
            ) {
                Ok((mdns, presence)) => (Some(mdns), Some(presence)),
                Err(e) => {
                    server.shutdown().await;
                    return Err(e.into());
                }
            }
        } else {
            (None, None)
        };
        tracing::info!(url = %server.url(), advertised = mdns.is_some(), "listening on the LAN");
        Ok(Listener {
            server,
            mdns,
            presence,
            feed,
        })
    }

    /// Starts or stops the listener to match what is wanted now.
    pub(super) async fn reconcile(&self) {
        let wanted = self.wanted();
        let mut running = self.running.lock().await;
        match (wanted, running.is_some()) {
            (true, false) => match self.start_listener().await {
                Ok(started) => *running = Some(started),
                Err(e) => tracing::error!(error = %e, "cannot go on the LAN"),
            },
            (false, true) => {
                if let Some(listener) = running.take() {
                    listener.stop().await;
                    tracing::info!("off the LAN: nothing is shared");
                }
            }
            _ => {}
        }
    }

    /// Re-checks now and whenever the document list (and so sharing) changes,
    /// until [`stop`](Self::stop).
    pub(super) fn watch(self: &Arc<Self>) {
        let this = Arc::clone(self);
        let mut events = self.service.subscribe();
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            this.reconcile().await;
            loop {
                tokio::select! {
                    _ = stopped.cancelled() => break,
                    event = events.recv() => match event {
                        Ok(ServiceEvent::DocsChanged)
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                            this.reconcile().await
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    },
                }
            }
        });
        let old = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .replace((stop, task));
        if let Some((stop, _)) = old {
            stop.cancel();
        }
    }

    /// Changes the user's LAN settings; a running listener restarts so a
    /// new name or discovery choice takes effect (peers see a goodbye, then
    /// the new announcement).
    pub(super) async fn configure(&self, change: LanSettings) -> Result<LanStatus, StoreError> {
        let store = self.service.hub().store();
        let flag = |on: bool| if on { "true" } else { "false" };
        if let Some(enabled) = change.enabled {
            store.put_setting(ENABLED_KEY, Some(flag(enabled)))?;
        }
        if let Some(discovery) = change.discovery {
            store.put_setting(DISCOVERY_KEY, Some(flag(discovery)))?;
        }
        if let Some(name) = change
            .name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            store.put_setting(NAME_KEY, Some(name))?;
        }
        if let Some(listener) = self.running.lock().await.take() {
            listener.stop().await;
        }
        self.reconcile().await;
        Ok(self.status().await)
    }

    /// The current state.
    pub(super) async fn status(&self) -> LanStatus {
        let running = self.running.lock().await;
        let name = crate::discovery::identity(self.service.hub().store().as_ref())
            .map(|(_, name)| name)
            .unwrap_or_else(|_| crate::discovery::host_name());
        let url = running.as_ref().map(|l| l.server.url());
        LanStatus {
            enabled: self.enabled(),
            discovery: self.discovery(),
            name,
            listening: running.is_some(),
            link_url: url.as_deref().map(reachable_url),
            url,
            presence: running.as_ref().and_then(|l| l.presence.clone()),
            fingerprint: self.identity.fingerprint().to_string(),
        }
    }

    /// Stops watching and leaves the LAN (goodbye packets, then the
    /// listener drains).
    pub(super) async fn stop(&self) {
        let watch = self
            .watch
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((stop, task)) = watch {
            stop.cancel();
            let _ = task.await;
        }
        if let Some(listener) = self.running.lock().await.take() {
            listener.stop().await;
        }
    }
}

/// `url` with an unspecified host (`0.0.0.0`, `::`) replaced by this
/// machine's first non-loopback address (IPv4 first), so that peers can use
/// it; unchanged when the host is specific or no such address exists.
pub fn reachable_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return url.to_string();
    };
    let unspecified = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => ip.is_unspecified(),
        _ => false,
    };
    if !unspecified {
        return url.to_string();
    }
    let mut addrs: Vec<std::net::IpAddr> = if_addrs::get_if_addrs()
        .map(|ifs| ifs.into_iter().map(|i| i.ip()).collect())
        .unwrap_or_default();
    addrs.retain(|ip| !ip.is_loopback() && !ip.is_unspecified());
    addrs.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    match addrs.first() {
        Some(ip) if parsed.set_ip_host(*ip).is_ok() => {
            parsed.to_string().trim_end_matches('/').to_string()
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::reachable_url;

    #[test]
    fn specific_hosts_stay_and_unspecified_ones_are_replaced() {
        assert_eq!(
            reachable_url("https://192.168.1.4:7450"),
            "https://192.168.1.4:7450"
        );
        let any = reachable_url("https://0.0.0.0:7450");
        assert!(
            any.ends_with(":7450") && any.starts_with("https://"),
            "{any}"
        );
        assert!(!any.contains("127.0.0.1"), "never loopback: {any}");
    }
}
