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
fn large_floats_that_print_as_integers_are_a_fixed_point() {
    // Found by the canonical_json fuzz target: 4.5e16 prints as an integer literal, which must
    // canonicalise to itself when read back as an integer.
    let v: Value = serde_json::from_str("4.5e+16").unwrap();
    assert_eq!(canon(&v), "45000000000000000");
    let back: Value = serde_json::from_str("45000000000000000").unwrap();
    assert_eq!(canon(&back), "45000000000000000");
    assert_eq!(canon(&json!(1e21)), "1e+21");
    // 2^64 - 2048 is a double, but ECMAScript spells it 18446744073709550000: only that spelling
    // is canonical, and it is a fixed point.
    assert!(Canonical::from_value(&json!(u64::MAX - 2047)).is_err());
    let v: Value = serde_json::from_str("18446744073709550000").unwrap();
    assert_eq!(canon(&v), "18446744073709550000");
}

#[test]
fn integers_no_double_holds_are_rejected_not_rounded() {
    let v = json!(9_007_199_254_740_993u64);
    assert_eq!(
        Canonical::from_value(&v).unwrap_err(),
        CanonicalError::UnsafeInteger("9007199254740993".into())
    );
    assert!(Canonical::from_value(&json!(u64::MAX)).is_err());
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

proptest::proptest! {
    #[test]
    fn key_order_is_utf16_order(a in "\\PC{0,8}", b in "\\PC{0,8}", x in "[ -~]{0,8}", y in "[ -~]{0,8}") {
        for (p, q) in [(&a, &b), (&x, &y), (&a, &y)] {
            proptest::prop_assert_eq!(compare_keys(p, q), p.encode_utf16().cmp(q.encode_utf16()));
        }
    }

    #[test]
    fn integers_canonicalise_like_their_double(n in proptest::num::i64::ANY) {
        let v = json!(n);
        match Canonical::from_value(&v) {
            Ok(c) => {
                // Accepted integers print as ECMAScript prints the same double.
                let mut buf = ryu_js::Buffer::new();
                proptest::prop_assert_eq!(c.as_str(), buf.format_finite(n as f64));
            }
            Err(_) => proptest::prop_assert!(n.unsigned_abs() > 1 << 53),
        }
    }
}

#[test]
fn keys_above_u_e000_take_the_sorting_path() {
    // U+FB33 sorts after U+1F600 in UTF-16 but before it in UTF-8: the map's byte order is wrong.
    let v = json!({"\u{fb33}": 1, "\u{1f600}": 2, "a": 3});
    assert_eq!(canon(&v), "{\"a\":3,\"\u{1f600}\":2,\"\u{fb33}\":1}");
}
