//! ordersync's JSON reader against serde_json's: the same values for every
//! document serde_json writes, and an error exactly where serde_json has one.

use ordersync::value::Value;
use proptest::prelude::*;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<u64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
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
    fn refuses_exactly_what_serde_json_refuses(text in soup()) {
        let ours = Value::from_json(&text);
        let theirs = serde_json::from_str::<serde_json::Value>(&text);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: ours {:?}, serde_json {:?}", text, ours.err(), theirs.err());
        if let (Ok(a), Ok(b)) = (ours, theirs) {
            prop_assert_eq!(a, Value::from(&b));
        }
    }

    #[test]
    fn never_panics_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let ours = Value::from_json_slice(&bytes);
        let theirs = serde_json::from_slice::<serde_json::Value>(&bytes);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok());
    }
}
