//! ordersync's JSON reader against serde_json's: the same values for every
//! document serde_json writes, and an error exactly where serde_json has one,
//! except that a number a decimal cannot hold exactly is refused (serde_json
//! rounds it into an `f64`). Numbers compare exactly: whole numbers by their
//! digits, others by the exact decimal of the text serde_json writes.

use ordersync::value::{Decimal, Value, parse_number};
use proptest::prelude::*;

/// A finite `f64` whose shortest text (as serde_json writes it) is an exact decimal.
fn exact_f64() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("finite and within a decimal", |f| {
        f.is_finite() && parse_number(&serde_json::to_string(f).unwrap()).is_ok()
    })
}

/// Our refusal of a number serde_json reads as a rounded `f64`.
fn refused_as_inexact(e: &ordersync::json::JsonError) -> bool {
    e.message.contains("is out of range") || e.message.contains("can be kept exactly")
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        exact_f64().prop_map(|f| serde_json::json!(f)),
        ".{0,40}".prop_map(serde_json::Value::String),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,30}", inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("\"k\"".to_string()),
        Just("\"a\\\"b\"".to_string()),
        Just("\"\\u00e9\\ud83d\\ude00\"".to_string()),
        Just("\"\\ud800\"".to_string()),
        Just("\"\\x\"".to_string()),
        Just("\"".to_string()),
        Just("\\".to_string()),
        Just("-".to_string()),
        Just("0".to_string()),
        Just("01".to_string()),
        Just("1.5e3".to_string()),
        Just("1e999".to_string()),
        Just("-0.0".to_string()),
        Just("1.".to_string()),
        Just(".5".to_string()),
        Just("true".to_string()),
        Just("tru".to_string()),
        Just("null".to_string()),
        Just(" ".to_string()),
        Just("\n".to_string()),
        Just("\t".to_string()),
        Just("\u{1}".to_string()),
        Just("é".to_string()),
    ];
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reads_what_serde_json_writes(v in json_value()) {
        let want = Value::from(&v);
        let compact = serde_json::to_string(&v).unwrap();
        prop_assert_eq!(Value::from_json(&compact).unwrap(), want.clone());
        let pretty = serde_json::to_string_pretty(&v).unwrap();
        prop_assert_eq!(Value::from_json(&pretty).unwrap(), want);
    }

    #[test]
    fn whole_numbers_keep_every_digit(n in any::<i128>()) {
        let n = n >> (spread(n));
        let text = n.to_string();
        match Decimal::try_from_i128_with_scale(n, 0) {
            Ok(d) => {
                let v = Value::from_json(&text).unwrap();
                prop_assert_eq!(v.as_decimal(), Some(d));
                prop_assert_eq!(v.to_json(), text.clone());
                // Where serde_json has the number exactly (64 bits), it writes the same digits.
                if let Ok(theirs) = serde_json::from_str::<serde_json::Number>(&text)
                    && (theirs.is_i64() || theirs.is_u64())
                {
                    prop_assert_eq!(theirs.to_string(), v.to_json());
                }
            }
            Err(_) => {
                let e = Value::from_json(&text).unwrap_err();
                prop_assert!(e.message.contains("is out of range"), "{}", e);
            }
        }
    }

    #[test]
    fn decimals_read_and_write_exactly(lo in any::<u64>(), hi in any::<u32>(), scale in 0u32..=28, neg in any::<bool>(), exp in -3i32..=3) {
        let d = Decimal::from_i128_with_scale((i128::from(hi) << 64) | i128::from(lo), scale);
        let d = if neg { -d } else { d };
        let plain = d.to_string();
        let v = Value::from_json(&plain).unwrap();
        prop_assert_eq!(v.as_decimal(), Some(d));
        let written = v.to_json();
        prop_assert_eq!(written.parse::<Decimal>().unwrap(), d);
        prop_assert!(!(written.contains('e') || (written.contains('.') && written.ends_with('0'))), "{}", written);
        // The same number with an exponent: read exactly, or refused, never rounded.
        let mantissa = d.mantissa().abs().to_string();
        let e_text = format!("{}{}e{}", if neg && !d.is_zero() { "-" } else { "" }, mantissa, exp - scale as i32);
        match Value::from_json(&e_text) {
            Ok(v) => {
                let want = if exp >= 0 {
                    d.checked_mul(Decimal::from(10i64.pow(exp as u32)))
                } else {
                    d.checked_div(Decimal::from(10i64.pow((-exp) as u32)))
                };
                prop_assert_eq!(v.as_decimal(), want, "{}", e_text);
            }
            Err(e) => prop_assert!(refused_as_inexact(&e), "{}: {}", e_text, e),
        }
    }

    #[test]
    fn refuses_exactly_what_serde_json_refuses(text in soup()) {
        let ours = Value::from_json(&text);
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        if let (Err(e), Ok(_)) = (&ours, &theirs) {
            prop_assert!(refused_as_inexact(e), "{:?}: ours {}", text, e);
            return Ok(());
        }
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: ours {:?}, serde_json {:?}", text, ours.err(), theirs.err());
        if let (Ok(a), Ok(b)) = (ours, theirs) {
            prop_assert_eq!(a, Value::from(&b));
        }
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let ours = Value::from_json_slice(&bytes);
        let theirs = serde_json::from_slice::<serde_json::Value>(&bytes);
        if let (Err(e), Ok(_)) = (&ours, &theirs) {
            prop_assert!(refused_as_inexact(e), "{}", e);
            return Ok(());
        }
        prop_assert_eq!(ours.is_ok(), theirs.is_ok());
    }
}

/// A shift that spreads random `i128`s over every length, from one digit to 39.
fn spread(n: i128) -> u32 {
    (n as u128 % 127) as u32
}
