//! Tests of fingerprints, identities and pinning.

use super::*;

#[test]
fn fingerprints_parse_in_common_spellings() {
    let fp = Fingerprint::of(b"cert");
    let shown = fp.to_string();
    assert_eq!(shown.len(), 95);
    assert_eq!(Fingerprint::parse(&shown).unwrap(), fp);
    assert_eq!(
        Fingerprint::parse(&shown.replace(':', "").to_lowercase()).unwrap(),
        fp
    );
    assert_eq!(Fingerprint::parse(&format!("sha256:{shown}")).unwrap(), fp);
    assert!(Fingerprint::parse("abcd").is_err());
    assert!(Fingerprint::parse(&"zz".repeat(32)).is_err());
}

#[test]
fn the_self_signed_identity_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = Identity::self_signed_in(dir.path()).unwrap();
    let again = Identity::self_signed_in(dir.path()).unwrap();
    assert_eq!(first.fingerprint(), again.fingerprint());
    first.server_config().unwrap();
    Trust::Pinned(first.fingerprint())
        .client_config(&[b"h2"])
        .unwrap();
}

#[cfg(unix)]
#[test]
fn the_private_key_is_owner_only_whatever_the_umask_and_an_old_loose_one_is_tightened() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    Identity::self_signed_in(dir.path()).unwrap();
    let key = dir.path().join("tls/key.pem");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&dir.path().join("tls")), 0o700);
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    Identity::self_signed_in(dir.path()).unwrap();
    assert_eq!(mode(&key), 0o600);
}
