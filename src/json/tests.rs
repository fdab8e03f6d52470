//! The reader's values and its errors, with their places.

use super::*;

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn reads_every_kind_of_value() {
    let v = parse(
        r#" {"a": [1, -2.5, 1e3, 0, -0, 12345678901234567890], "b": {"c": null},
        "t": true, "f": false, "s": "x\"y\\z\/\n\u00e9\ud83d\ude00"} "#,
    )
    .unwrap();
    assert_eq!(
        v.to_json(),
        r#"{"a":[1,-2.5,1000,0,0,12345678901234567890],"b":{"c":null},"t":true,"f":false,"s":"x\"y\\z/\né😀"}"#
    );
}

#[test]
fn errors_name_the_place() {
    let rows = [
        (
            r#"{"id": "1", "#.to_string(),
            "EOF while parsing an object at line 1 column 12",
        ),
        (
            "{\"a\": 1,\n  x}".to_string(),
            "key must be a string at line 2 column 3",
        ),
        (
            "[1 2]".to_string(),
            "expected `,` or `]` at line 1 column 4",
        ),
        ("{\"a\" 1}".to_string(), "expected `:` at line 1 column 6"),
        ("[01]".to_string(), "expected `,` or `]` at line 1 column 3"),
        ("[1.]".to_string(), "invalid number at line 1 column 4"),
        ("\"a\\qb\"".to_string(), "invalid escape at line 1 column 4"),
        (
            "\"\\ud800\"".to_string(),
            "lone leading surrogate in hex escape at line 1 column 8",
        ),
        (
            "\"a\tb\"".to_string(),
            "control character (\\u0000-\\u001F) found while parsing a string at line 1 column 3",
        ),
        (
            "1e999".to_string(),
            "number `1e999` is out of range (an exact number is at most 28 digits, below 7.9e28) at line 1 column 1",
        ),
        (
            r#"{"total_price": 1e400}"#.to_string(),
            "number `1e400` is out of range (an exact number is at most 28 digits, below 7.9e28) at line 1 column 17",
        ),
        (
            "[1, 100000000000000000000000000000]".to_string(),
            "number `100000000000000000000000000000` is out of range (an exact number is at most 28 digits, below 7.9e28) at line 1 column 5",
        ),
        (
            "0.12345678901234567890123456789".to_string(),
            "number `0.12345678901234567890123456789` has more digits than can be kept exactly (at most 28 significant digits and 28 after the point) at line 1 column 1",
        ),
        (
            "1e-29".to_string(),
            "number `1e-29` has more digits than can be kept exactly (at most 28 significant digits and 28 after the point) at line 1 column 1",
        ),
        (
            "nul".to_string(),
            "EOF while parsing a value at line 1 column 3",
        ),
        ("{} x".to_string(), "trailing characters at line 1 column 4"),
        (
            "".to_string(),
            "EOF while parsing a value at line 1 column 0",
        ),
        (
            "[".repeat(100),
            "nested deeper than 64 levels at line 1 column 65",
        ),
    ];
    for (text, want) in rows {
        assert_eq!(err(&text), want, "{text:?}");
    }
}

#[test]
fn long_and_escaped_strings() {
    let long = "é".repeat(40);
    let v = parse(&format!("[\"{long}\", \"{}\"]", "q".repeat(9))).unwrap();
    assert_eq!(v.to_json(), format!("[\"{long}\",\"{}\"]", "q".repeat(9)));
}

#[test]
fn numbers_are_read_exactly() {
    let rows = [
        ("104.5", "104.5"),
        ("0.1", "0.1"),
        ("-0", "0"),
        ("95.10", "95.1"),
        ("1.5e3", "1500"),
        ("1E+2", "100"),
        ("25e-1", "2.5"),
        ("820982911946154508", "820982911946154508"),
        ("9999999999999999999", "9999999999999999999"),
        (
            "0.0000000000000000000000000001",
            "0.0000000000000000000000000001",
        ),
        (
            "1234567890123456789012345678",
            "1234567890123456789012345678",
        ),
    ];
    for (text, want) in rows {
        assert_eq!(parse(text).unwrap().to_json(), want, "{text}");
    }
}

#[test]
fn an_inexact_number_is_marked() {
    assert!(parse("[1e400]").unwrap_err().inexact_number);
    assert!(!parse("[1e]").unwrap_err().inexact_number);
}
