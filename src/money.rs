//! Currencies and their minor units (ISO 4217), and money written with them.
//!
//! A leaf: `convert()` rounds to the target's minor unit, and a platform
//! connector writes amounts with exactly the currency's places (SPEC 3.6:
//! `"104.50"` USD, `"1000"` JPY, `"1.250"` KWD).

use rust_decimal::{Decimal, RoundingStrategy};

/// The active ISO 4217 codes (list one) and their minor units, sorted by code
/// for a binary search. Codes whose minor unit is "N.A." (precious metals,
/// `XDR`, `XTS`, `XXX`, ...) are left out: they have no places to round to.
/// `ANG` and `ZWL` are kept beside their successors `XCG` and `ZWG` while
/// amounts in them are still about.
const MINOR_UNITS: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BOV", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHE", 2),
    ("CHF", 2),
    ("CHW", 2),
    ("CLF", 4),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("COU", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MXV", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("USN", 2),
    ("UYI", 0),
    ("UYU", 2),
    ("UYW", 4),
    ("UZS", 2),
    ("VED", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XCG", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
    ("ZWL", 2),
];

/// The number of decimal places of currency `code` (ISO 4217, case-insensitive);
/// `None` for a code the table does not know.
pub fn minor_units(code: &str) -> Option<u32> {
    let code: [u8; 3] = code.as_bytes().try_into().ok()?;
    let upper = code.map(|b| b.to_ascii_uppercase());
    MINOR_UNITS
        .binary_search_by(|(c, _)| c.as_bytes().cmp(&upper[..]))
        .ok()
        .map(|i| MINOR_UNITS[i].1)
}

/// `amount` rounded half to even to `currency`'s minor unit; `None` for an
/// unknown currency.
pub fn round_minor(amount: Decimal, currency: &str) -> Option<Decimal> {
    let places = minor_units(currency)?;
    Some(amount.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven))
}

/// `amount` written with exactly `currency`'s minor units, rounded half to even
/// (`104.5` USD -> `"104.50"`, `1000` JPY -> `"1000"`); `None` for an unknown
/// currency.
pub fn format_minor(amount: Decimal, currency: &str) -> Option<String> {
    let places = minor_units(currency)?;
    let mut rounded = amount.round_dp_with_strategy(places, RoundingStrategy::MidpointNearestEven);
    if rounded.is_zero() {
        // No `-0.00`: a rounded-away negative amount is zero.
        rounded.set_sign_positive(true);
    }
    // Rounding never leaves more places than asked; `rescale` pads with zeros.
    rounded.rescale(places);
    Some(rounded.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn the_table_is_sorted_three_letter_codes() {
        for w in MINOR_UNITS.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0].0, w[1].0);
        }
        assert!(
            MINOR_UNITS
                .iter()
                .all(|(c, _)| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(MINOR_UNITS.len() > 150);
    }

    #[test]
    fn minor_units_of_known_and_unknown_codes() {
        let rows = [
            ("USD", Some(2)),
            ("usd", Some(2)),
            ("EUR", Some(2)),
            ("JPY", Some(0)),
            ("KRW", Some(0)),
            ("KWD", Some(3)),
            ("BHD", Some(3)),
            ("OMR", Some(3)),
            ("JOD", Some(3)),
            ("TND", Some(3)),
            ("LYD", Some(3)),
            ("IQD", Some(3)),
            ("CLF", Some(4)),
            ("UYW", Some(4)),
            ("XAU", None),
            ("XYZ", None),
            ("US", None),
            ("USDX", None),
            ("", None),
            ("ÜSD", None),
        ];
        for (code, want) in rows {
            assert_eq!(minor_units(code), want, "{code}");
        }
    }

    #[test]
    fn format_minor_writes_exactly_the_places() {
        let rows = [
            ("104.5", "USD", Some("104.50")),
            ("104.50000", "usd", Some("104.50")),
            ("20", "EUR", Some("20.00")),
            ("1000", "JPY", Some("1000")),
            ("999.5", "JPY", Some("1000")),
            ("998.5", "JPY", Some("998")),
            ("1.25", "KWD", Some("1.250")),
            ("1.2345", "KWD", Some("1.234")),
            ("1.2355", "KWD", Some("1.236")),
            ("0.125", "USD", Some("0.12")),
            ("0.135", "USD", Some("0.14")),
            ("-0.001", "USD", Some("0.00")),
            ("-2.675", "USD", Some("-2.68")),
            ("820982911946154508", "USD", Some("820982911946154508.00")),
            ("1", "XYZ", None),
        ];
        for (amount, currency, want) in rows {
            assert_eq!(
                format_minor(d(amount), currency).as_deref(),
                want,
                "{amount} {currency}"
            );
        }
    }

    #[test]
    fn round_minor_is_half_even() {
        assert_eq!(round_minor(d("104.505"), "USD"), Some(d("104.50")));
        assert_eq!(round_minor(d("104.515"), "USD"), Some(d("104.52")));
        assert_eq!(round_minor(d("2.5"), "JPY"), Some(d("2")));
        assert_eq!(round_minor(d("1"), "XXX"), None);
    }
}
