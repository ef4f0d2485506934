//! The app on the local network: it listens beyond loopback (TLS) and
//! advertises itself only while a document is shared (`lan` or `link`) or the
//! user turned LAN presence on; otherwise nothing is exposed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use serde::Serialize;
use tandem::discovery::lan::{LanNode, Presence};
use tandem::discovery::peers::Peers;
use tandem::service::{Service, ServiceEvent};
use tandem::tls::Identity;
use tauri::async_runtime::JoinHandle;
use tokio::sync::Mutex;

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
    /// Whether the app listens on the LAN now.
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

/// Starts and stops the LAN listener as sharing changes.
pub struct Lan {
    service: Arc<Service>,
    peers: Arc<Peers>,
    identity: Identity,
    listen: SocketAddr,
    node: Mutex<Option<LanNode>>,
}

impl Lan {
    /// LAN presence for `service`, listening on `TANDEM_LAN_LISTEN` or any
    /// free port of all interfaces when needed.
    pub fn new(service: Arc<Service>, peers: Arc<Peers>, identity: Identity) -> Arc<Self> {
        let listen = std::env::var("TANDEM_LAN_LISTEN")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        Arc::new(Self {
            service,
            peers,
            identity,
            listen,
            node: Mutex::new(None),
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
            && !tandem::discovery::disabled_by_env()
    }

    fn wanted(&self) -> bool {
        self.enabled()
            || self
                .service
                .list_docs()
                .map(|docs| docs.iter().any(|d| d.share.allows_peers()))
                .unwrap_or(false)
    }

    /// Starts or stops the listener to match what is wanted now.
    pub async fn reconcile(&self) {
        let wanted = self.wanted();
        let mut node = self.node.lock().await;
        match (wanted, node.is_some()) {
            (true, false) => {
                match LanNode::start(
                    &self.service,
                    &self.peers,
                    &self.identity,
                    self.listen,
                    self.discovery(),
                )
                .await
                {
                    Ok(started) => *node = Some(started),
                    Err(e) => tracing::error!(error = %e, "cannot go on the LAN"),
                }
            }
            (false, true) => {
                if let Some(running) = node.take() {
                    running.stop().await;
                    tracing::info!("off the LAN: nothing is shared");
                }
            }
            _ => {}
        }
    }

    /// Re-checks whenever the document list (and so sharing) changes.
    pub fn watch(self: &Arc<Self>) -> JoinHandle<()> {
        let this = Arc::clone(self);
        let mut events = self.service.subscribe();
        tauri::async_runtime::spawn(async move {
            this.reconcile().await;
            loop {
                match events.recv().await {
                    Ok(ServiceEvent::DocsChanged)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        this.reconcile().await
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        })
    }

    /// Changes the user's LAN settings; a running listener restarts so a
    /// new name or discovery choice takes effect (peers see a goodbye, then
    /// the new announcement).
    pub async fn configure(
        &self,
        change: LanSettings,
    ) -> Result<LanStatus, tandem::store::StoreError> {
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
        if let Some(running) = self.node.lock().await.take() {
            running.stop().await;
        }
        self.reconcile().await;
        Ok(self.status().await)
    }

    /// The current state.
    pub async fn status(&self) -> LanStatus {
        let node = self.node.lock().await;
        let name = tandem::discovery::identity(self.service.hub().store().as_ref())
            .map(|(_, name)| name)
            .unwrap_or_else(|_| tandem::discovery::host_name());
        LanStatus {
            enabled: self.enabled(),
            discovery: self.discovery(),
            name,
            listening: node.is_some(),
            url: node.as_ref().map(LanNode::url),
            link_url: node.as_ref().map(|n| reachable_url(&n.url())),
            presence: node.as_ref().and_then(|n| n.presence().cloned()),
            fingerprint: self.identity.fingerprint().to_string(),
        }
    }

    /// Leaves the LAN (goodbye packets), at exit.
    pub async fn stop(&self) {
        if let Some(node) = self.node.lock().await.take() {
            node.stop().await;
        }
    }
}

/// `url` with an unspecified host (`0.0.0.0`, `::`) replaced by this
/// machine's first non-loopback address (IPv4 first), so that peers can use
/// it; unchanged when the host is specific or no such address exists.
fn reachable_url(url: &str) -> String {
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
