//! The mDNS backend: advertise ourselves and browse for others with
//! `mdns-sd`, as one actor task that owns the daemon.
//!
//! Departures are noticed two ways: a graceful exit sends goodbye packets
//! (the daemon is shut down, not dropped), and every known peer is re-queried
//! every couple of seconds (`verify`), so one that crashed disappears within
//! seconds rather than after the two-minute record TTL.

use std::collections::HashMap;
use std::time::Duration;

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Advertisement, DiscoveryEvent, Sighting, PROTOCOL_VERSION, SERVICE_TYPE};

/// How often known peers are re-queried.
const VERIFY_EVERY: Duration = Duration::from_secs(2);
/// How long a re-queried peer has to answer.
const VERIFY_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why mDNS could not start.
#[derive(Debug, thiserror::Error)]
#[error("mDNS: {0}")]
pub struct MdnsError(String);

impl From<mdns_sd::Error> for MdnsError {
    fn from(e: mdns_sd::Error) -> Self {
        Self(e.to_string())
    }
}

/// A running advertisement + browser. Dropping it does not stop it; call
/// [`Mdns::shutdown`] so that goodbye packets go out.
pub(crate) struct Mdns {
    daemon: ServiceDaemon,
    fullname: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Mdns {
    /// Starts advertising `ad` and browsing; events arrive on the returned
    /// receiver (our own announcements are filtered out).
    pub(crate) fn start(
        ad: Advertisement,
    ) -> Result<(Self, mpsc::UnboundedReceiver<DiscoveryEvent>), MdnsError> {
        if super::disabled_by_env() {
            return Err(MdnsError("switched off by TANDEM_NO_MDNS".into()));
        }
        let daemon = ServiceDaemon::new()?;
        // Notice new or changed interfaces (a network coming up) within a second.
        daemon.set_ip_check_interval(1)?;
        let host = format!("{}.local.", sanitize_host(&ad.name, &ad.id));
        let properties = [
            ("id", ad.id.as_str()),
            ("name", ad.name.as_str()),
            ("port", &ad.port.to_string()),
            ("version", PROTOCOL_VERSION),
            ("fp", ad.fingerprint.as_str()),
        ];
        // The instance name is the peer ID: unique, and stable across restarts.
        let info = ServiceInfo::new(SERVICE_TYPE, &ad.id, &host, (), ad.port, &properties[..])?
            .enable_addr_auto();
        let fullname = info.get_fullname().to_owned();
        daemon.register(info)?;
        let browse = daemon.browse(SERVICE_TYPE)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(daemon.clone(), browse, ad.id.clone(), tx, stop.clone()));
        tracing::info!(id = %ad.id, name = %ad.name, port = ad.port, "advertising on mDNS");
        Ok((
            Self {
                daemon,
                fullname,
                stop,
                task,
            },
            rx,
        ))
    }

    /// Withdraws the advertisement (goodbye packets) and stops the daemon.
    pub(crate) async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
        if let Ok(done) = self.daemon.unregister(&self.fullname) {
            let _ = tokio::time::timeout(Duration::from_secs(1), done.recv_async()).await;
        }
        if let Ok(done) = self.daemon.shutdown() {
            let _ = tokio::time::timeout(Duration::from_secs(1), done.recv_async()).await;
        }
    }
}

/// A DNS-safe host label: the display name's letters and digits, else the ID.
fn sanitize_host(name: &str, id: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .chars()
        .take(40)
        .collect();
    if label.is_empty() {
        format!("tandem-{id}")
    } else {
        format!("{label}-{}", &id[..id.len().min(6)])
    }
}

async fn run(
    daemon: ServiceDaemon,
    browse: mdns_sd::Receiver<ServiceEvent>,
    own_id: String,
    tx: mpsc::UnboundedSender<DiscoveryEvent>,
    stop: CancellationToken,
) {
    // fullname → peer id, for removals (which only carry the fullname).
    let mut known: HashMap<String, String> = HashMap::new();
    let mut verify = tokio::time::interval(VERIFY_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = verify.tick() => {
                for fullname in known.keys() {
                    let _ = daemon.verify(fullname.clone(), VERIFY_TIMEOUT);
                }
            }
            event = browse.recv_async() => {
                let Ok(event) = event else { break };
                match event {
                    ServiceEvent::ServiceResolved(service) => {
                        let txt = |k: &str| service.get_property_val_str(k).unwrap_or_default().to_owned();
                        let id = txt("id");
                        if id.is_empty() || id == own_id {
                            continue;
                        }
                        let port = txt("port").parse().unwrap_or(service.port);
                        // Link-local IPv6 needs a scope to be dialled; skip it.
                        let mut addresses: Vec<_> = service
                            .get_addresses()
                            .iter()
                            .map(|a| a.to_ip_addr())
                            .filter(|a| !matches!(a, std::net::IpAddr::V6(v6) if v6.is_unicast_link_local()))
                            .collect();
                        if addresses.is_empty() {
                            continue; // an address record will follow
                        }
                        addresses.sort_by_key(|a| (a.is_ipv6(), *a));
                        addresses.dedup();
                        known.insert(service.fullname.clone(), id.clone());
                        let sighting = Sighting {
                            id,
                            name: txt("name"),
                            addresses,
                            port,
                            fingerprint: txt("fp"),
                            version: txt("version"),
                        };
                        if tx.send(DiscoveryEvent::Seen(sighting)).is_err() {
                            break;
                        }
                    }
                    ServiceEvent::ServiceRemoved(_, fullname) => {
                        if let Some(id) = known.remove(&fullname) {
                            if tx.send(DiscoveryEvent::Gone { id }).is_err() {
                                break;
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}
