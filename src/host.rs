//! Facts about this machine and addresses that several layers need: the
//! host name, and whether an address or a URL host is this machine.

use std::net::IpAddr;

/// The machine's host name, or `tandem` if it has none.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "tandem".to_owned())
}

/// Whether `ip` is a loopback address, including IPv4 loopback mapped into
/// IPv6 (`::ffff:127.0.0.1`, what a `[::]` listener sees for IPv4 clients).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether a URL host (`localhost`, `127.0.0.1`, `[::1]`, …) names this machine's loopback.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .trim_matches(['[', ']'])
            .parse::<IpAddr>()
            .is_ok_and(is_loopback)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_forms() {
        for yes in [
            "127.0.0.1",
            "127.8.9.1",
            "[::1]",
            "localhost",
            "LOCALHOST.",
            "a.localhost",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback_host(yes), "{yes}");
        }
        for no in [
            "10.0.0.1",
            "example.com",
            "[::]",
            "localhost.example.com",
            "0.0.0.0",
        ] {
            assert!(!is_loopback_host(no), "{no}");
        }
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
    }
}
