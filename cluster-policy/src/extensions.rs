//! Rego built-ins regorus lacks and palisade's policies need, registered on every engine as
//! regorus extensions with OPA's names and semantics (so policies stay OPA-compatible).

use std::net::IpAddr;

use regorus::Value;

/// Registers every extension on `engine` (before policies are added). `anyhow` appears only
/// because regorus's extension signature demands it.
pub(crate) fn register(engine: &mut regorus::Engine) -> Result<(), String> {
    engine
        .add_extension(
            "net.cidr_intersects".to_owned(),
            2,
            Box::new(|args: Vec<Value>| -> anyhow::Result<Value> {
                let [a, b] = args.as_slice() else {
                    anyhow::bail!("net.cidr_intersects takes two CIDRs");
                };
                Ok(Value::from(intersects(&cidr(a)?, &cidr(b)?)))
            }),
        )
        .map_err(|e| e.to_string())
}

/// An address block: network address bits and prefix length, IPv4 or IPv6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    v6: bool,
    bits: u128,
    prefix: u8,
}

fn cidr(value: &Value) -> anyhow::Result<Cidr> {
    let text = value.as_string()?;
    parse(text).ok_or_else(|| anyhow::anyhow!("{text:?} is not a CIDR or IP address"))
}

/// Parses `a.b.c.d/n`, `x::y/n` or a bare address (a /32 or /128), as OPA's `net.*` do.
pub fn parse(text: &str) -> Option<Cidr> {
    let (addr, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let (v6, bits, width) = match addr.parse::<IpAddr>().ok()? {
        IpAddr::V4(a) => (false, u128::from(u32::from(a)) << 96, 32),
        IpAddr::V6(a) => (true, u128::from(a), 128),
    };
    let prefix = prefix.unwrap_or(width);
    if prefix > width {
        return None;
    }
    Some(Cidr { v6, bits, prefix })
}

/// Whether two blocks share an address: same family and equal on the shorter prefix.
pub fn intersects(a: &Cidr, b: &Cidr) -> bool {
    if a.v6 != b.v6 {
        return false;
    }
    // IPv4 addresses sit in the top 32 bits, so every prefix counts from the top bit.
    let shorter = u32::from(a.prefix.min(b.prefix));
    let mask = if shorter == 0 {
        0
    } else {
        u128::MAX << (128 - shorter)
    };
    a.bits & mask == b.bits & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(a: &str, b: &str) -> bool {
        intersects(&parse(a).unwrap(), &parse(b).unwrap())
    }

    #[test]
    fn blocks_intersect_when_equal_on_the_shorter_prefix() {
        assert!(x("10.0.0.0/8", "10.1.2.0/24"));
        assert!(x("10.1.2.0/24", "10.0.0.0/8"));
        assert!(!x("10.0.0.0/8", "11.0.0.0/8"));
        assert!(x("0.0.0.0/0", "203.0.113.7"));
        assert!(x("192.168.1.1", "192.168.1.0/24"));
        assert!(!x("192.168.1.1", "192.168.1.2"));
        assert!(x("2001:db8::/32", "2001:db8:1::/48"));
        assert!(!x("2001:db8::/32", "2001:db9::/32"));
        assert!(x("::/0", "fe80::1"));
    }

    #[test]
    fn families_never_intersect_and_garbage_is_refused() {
        assert!(!x("0.0.0.0/0", "::/0"));
        assert!(parse("10.0.0.0/33").is_none());
        assert!(parse("10.0.0/8").is_none());
        assert!(parse("::/129").is_none());
        assert!(parse("").is_none());
    }

    #[test]
    fn rego_calls_the_extension_and_a_bad_argument_is_an_error() {
        let mut engine = regorus::Engine::new();
        register(&mut engine).unwrap();
        engine
            .add_policy(
                "t.rego".into(),
                "package t\nimport rego.v1\nyes if net.cidr_intersects(\"10.0.0.0/8\", \"10.2.0.0/16\")\nno if net.cidr_intersects(\"10.0.0.0/8\", \"11.0.0.0/8\")\nbad if net.cidr_intersects(\"x\", \"10.0.0.0/8\")\n".into(),
            )
            .unwrap();
        assert_eq!(
            engine.eval_rule("data.t.yes".into()).unwrap(),
            Value::from(true)
        );
        assert_eq!(
            engine.eval_rule("data.t.no".into()).unwrap(),
            Value::Undefined
        );
        assert!(engine.eval_rule("data.t.bad".into()).is_err());
    }
}
