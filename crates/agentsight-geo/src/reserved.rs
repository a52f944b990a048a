//! Addresses that have no place on the map: private, loopback, link-local, multicast,
//! documentation, unspecified and the other special-purpose ranges of the IANA registries
//! (RFC 6890 and successors). They are refused before any database lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True when `ip` is not a globally routed unicast address and so cannot be geolocated.
///
/// IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is judged by its IPv4 address.
pub(crate) fn is_reserved(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => is_reserved_v4(v4),
        IpAddr::V6(v6) => is_reserved_v6(v6),
    }
}

/// IPv4 special-purpose ranges.
pub(crate) fn is_reserved_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                       // 0.0.0.0/8 "this network", unspecified
        || ip.is_private()                       // 10/8, 172.16/12, 192.168/16
        || (a == 100 && (b & 0xc0) == 64)        // 100.64/10 shared address space (CGNAT)
        || ip.is_loopback()                      // 127/8
        || ip.is_link_local()                    // 169.254/16
        || (a == 192 && b == 0 && c == 0)        // 192.0.0/24 IETF protocol assignments
        || ip.is_documentation()                 // 192.0.2/24, 198.51.100/24, 203.0.113/24
        || (a == 192 && b == 88 && c == 99)      // 192.88.99/24 6to4 relay anycast (deprecated)
        || (a == 198 && (b & 0xfe) == 18)        // 198.18/15 benchmarking
        || ip.is_multicast()                     // 224/4
        || a >= 240 // 240/4 reserved, including 255.255.255.255 broadcast
}

/// IPv6 special-purpose ranges. Only 2000::/3 is allocated as global unicast, so everything
/// outside it (`::`, `::1`, IPv4-compatible, NAT64 `64:ff9b::/96`, discard `100::/64`, unique
/// local `fc00::/7`, link-local `fe80::/10`, multicast `ff00::/8`, …) is refused; inside it the
/// documentation and protocol-assignment blocks are.
pub(crate) fn is_reserved_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) != 0x2000                    // outside 2000::/3
        || (s[0] == 0x2001 && s[1] < 0x0200)     // 2001::/23 IETF protocol assignments (Teredo, benchmarking, ORCHID)
        || (s[0] == 0x2001 && s[1] == 0x0db8)    // 2001:db8::/32 documentation
        || (s[0] == 0x3fff && s[1] < 0x1000) // 3fff::/20 documentation (RFC 9637)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reserved(s: &str) -> bool {
        is_reserved(s.parse().expect("test address"))
    }

    #[test]
    fn ipv4_special_ranges_are_reserved() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.200",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(reserved(a), "{a} should be reserved");
        }
    }

    #[test]
    fn ipv4_public_neighbours_are_not_reserved() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert!(!reserved(a), "{a} should be public");
        }
    }

    #[test]
    fn ipv6_special_ranges_are_reserved() {
        for a in [
            "::",
            "::1",
            "::8.8.8.8", // IPv4-compatible (deprecated)
            "64:ff9b::808:808",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:1ff:ffff::1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "3fff:fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(reserved(a), "{a} should be reserved");
        }
    }

    #[test]
    fn ipv6_global_unicast_is_not_reserved() {
        for a in [
            "2001:200::1",
            "2001:4860:4860::8888",
            "2001:db7:ffff::1",
            "2001:db9::1",
            "2003::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:800::1",
            "3ffe:ffff::1",
            "3fff:1000::1",
        ] {
            assert!(!reserved(a), "{a} should be public");
        }
    }

    #[test]
    fn ipv4_mapped_is_judged_as_ipv4() {
        assert!(reserved("::ffff:10.0.0.1"));
        assert!(reserved("::ffff:127.0.0.1"));
        assert!(reserved("::ffff:192.168.0.1"));
        assert!(!reserved("::ffff:8.8.8.8"));
    }
}
