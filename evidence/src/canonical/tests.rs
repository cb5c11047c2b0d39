//! Tests for RFC 8785 canonicalisation, including the RFC's own examples.

use super::*;
use serde_json::json;

fn canon(v: &Value) -> String {
    Canonical::from_value(v).unwrap().as_str().to_owned()
}

#[test]
fn sorts_keys_by_utf16_code_units_rfc8785_3_2_3() {
    // The RFC's sorting example: U+1F600 (a surrogate pair in UTF-16) sorts before U+FB33.
    let v: Value = serde_json::from_str(
        r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#,
    )
    .unwrap();
    let expected = concat!(
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",",
        "\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",",
        "\"\u{1f600}\":\"Emoji: Grinning Face\",",
        "\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
    );
    assert_eq!(canon(&v), expected);
}

#[test]
fn rfc8785_example_number_and_string_forms() {
    let v: Value = serde_json::from_str(
        r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],
            "string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#,
    )
    .unwrap();
    assert_eq!(
        canon(&v),
        r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
    );
}

#[test]
fn no_whitespace_and_nested_objects_sorted() {
    let v = json!({"b": [1, {"z": 1, "a": 2}], "a": {"y": null, "x": true}});
    assert_eq!(
        canon(&v),
        r#"{"a":{"x":true,"y":null},"b":[1,{"a":2,"z":1}]}"#
    );
}

#[test]
fn control_characters_escaped_lowercase_hex() {
    let v = json!("\u{1}\u{1f}\u{7f}\u{2028}\t");
    assert_eq!(canon(&v), "\"\\u0001\\u001f\u{7f}\u{2028}\\t\"");
}

#[test]
fn negative_zero_is_zero() {
    let v: Value = serde_json::from_str("-0.0").unwrap();
    assert_eq!(canon(&v), "0");
}

#[test]
fn integers_beyond_2_pow_53_are_rejected_not_rounded() {
    let v = json!(9_007_199_254_740_993u64);
    assert_eq!(
        Canonical::from_value(&v).unwrap_err(),
        CanonicalError::UnsafeInteger("9007199254740993".into())
    );
    assert_eq!(canon(&json!(9_007_199_254_740_991u64)), "9007199254740991");
    assert_eq!(
        canon(&json!(-9_007_199_254_740_991i64)),
        "-9007199254740991"
    );
}

#[test]
fn verify_bytes_rejects_non_canonical_spelling() {
    assert!(Canonical::verify_bytes(br#"{"a":1,"b":2}"#).is_ok());
    assert!(Canonical::verify_bytes(br#"{"b":2,"a":1}"#).is_err());
    assert!(Canonical::verify_bytes(br#"{"a": 1}"#).is_err());
    assert!(Canonical::verify_bytes(br#"{"a":1"#).is_err());
}

#[test]
fn digest_is_sha256_of_bytes() {
    let c = Canonical::from_value(&json!({})).unwrap();
    assert_eq!(
        c.digest().to_string(),
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
}

proptest::proptest! {
    #[test]
    fn canonical_form_is_a_fixed_point(s in "\\PC*", n in proptest::num::i32::ANY, f in -1e300f64..1e300) {
        let v = json!({"s": s, "n": n, "f": f, "nested": [{"k": s}]});
        let once = Canonical::from_value(&v).unwrap();
        let (twice, _) = Canonical::verify_bytes(once.as_bytes()).unwrap();
        proptest::prop_assert_eq!(once, twice);
    }
}
