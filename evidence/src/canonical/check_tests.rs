//! Tests of the streaming canonical check: it proves what the writer writes, and it never proves
//! what the full parse refuses (the property the verifier's acceptance rests on).

use proptest::prelude::*;
use serde_json::{json, Value};

use super::is_canonical;
use crate::canonical::Canonical;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e300f64..1e300).prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::from),
        "[\\x00-\\x1f\"\\\\a]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z0-9_ é€😀\u{fb33}\u{e000}]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    // Enough cases that a single wrongly allowed byte in an edit is found (mutation-checked).
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn streaming_check_proves_what_the_writer_writes(value in json_value()) {
        if let Ok(canonical) = Canonical::from_value(&value) {
            prop_assert!(is_canonical(canonical.as_bytes()), "{}", canonical.as_str());
            prop_assert_eq!(Canonical::check_bytes(canonical.as_bytes()), Ok(canonical));
        }
    }

    #[test]
    fn streaming_check_never_proves_what_the_full_parse_refuses(
        value in json_value(),
        at in any::<prop::sample::Index>(),
        byte in prop::sample::select(b" \t\n\"\\,:{}[]-+.0159eEuaf\x01\x7f\xc3".to_vec()),
        edit in 0u8..3,
    ) {
        let Ok(canonical) = Canonical::from_value(&value) else { return Ok(()) };
        let mut bytes = canonical.into_bytes();
        let i = at.index(bytes.len() + 1);
        match edit {
            0 => bytes.insert(i, byte),
            1 if i < bytes.len() => { bytes.remove(i); }
            _ if i < bytes.len() => bytes[i] = byte,
            _ => bytes.push(byte),
        }
        if is_canonical(&bytes) {
            let full = Canonical::verify_bytes(&bytes);
            prop_assert!(full.is_ok(), "proved {:?}, full parse: {:?}", String::from_utf8_lossy(&bytes), full);
        }
        // Whatever the path, check_bytes and verify_bytes agree.
        prop_assert_eq!(
            Canonical::check_bytes(&bytes).ok(),
            Canonical::verify_bytes(&bytes).ok().map(|(c, _)| c)
        );
    }
}

#[test]
fn non_canonical_spellings_are_never_proved() {
    for text in [
        " {}",
        "{} ",
        "{\"a\": 1}",
        "{\"b\":1,\"a\":2}",
        "{\"a\":1,\"a\":1}",
        "[1 ,2]",
        "\"\\/\"",
        "\"\\u0041\"",
        "\"\\u001F\"",
        "\"\\u000a\"",
        "\"\\u0009\"",
        "\"\\u00e9\"",
        "\"\\ud83d\\ude00\"",
        "\"\t\"",
        "01",
        "-0",
        "1.0",
        "1E30",
        "1e30",
        "4.50",
        "9007199254740993",
        "nul",
        "[1,]",
        "{\"a\":}",
        "[",
        "\"",
        "",
    ] {
        assert!(!is_canonical(text.as_bytes()), "{text:?}");
        assert!(Canonical::check_bytes(text.as_bytes()).is_err(), "{text:?}");
    }
    assert!(!is_canonical(b"\"\xff\""));
}

#[test]
fn canonical_spellings_are_proved() {
    for text in [
        "null",
        "0",
        "-1",
        "123456789012345",
        "9007199254740992",
        "1e+30",
        "0.002",
        "-1.5",
        "\"\\u001f\\n\\\"\\\\€\u{7f}\"",
        "{\"\\r\":1}",
        "{\"1\":[],\"a\":{},\"b\":[true,false,null]}",
        "{\"\u{1f600}\":2,\"\u{fb33}\":1}",
    ] {
        assert!(Canonical::verify_bytes(text.as_bytes()).is_ok(), "{text:?}");
        assert!(Canonical::check_bytes(text.as_bytes()).is_ok(), "{text:?}");
    }
    // An escaped key is left to the full parse, which accepts it.
    assert!(!is_canonical(b"{\"\\r\":1}"));
    assert!(is_canonical("{\"\u{1f600}\":2,\"\u{fb33}\":1}".as_bytes()));
}

#[test]
fn nesting_deeper_than_the_check_follows_takes_the_full_parse() {
    let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(!is_canonical(deep.as_bytes()));
    assert!(Canonical::check_bytes(deep.as_bytes()).is_ok());
    let shallow = format!("{}{}", "[".repeat(90), "]".repeat(90));
    assert!(is_canonical(shallow.as_bytes()));
}
