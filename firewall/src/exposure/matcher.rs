//! From expressions to conditions: which packet fields the space models (the left side of a
//! match or the key of a verdict map), and which values a right side names (immediates,
//! ranges, prefixes, anonymous sets, named sets in `Table.sets`).

use super::cond::Cond;
use super::space::{Iv, Ivs, Region, Space, CT, DADDR, DPORT, IIF, OIF, PROTO, SADDR};
use super::values::{self, Interfaces};
use crate::model::{Expr, MatchOp, Payload, Table};

/// What a compilation needs to know about the family and the ruleset.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    /// The space of this family.
    pub(crate) space: Space,
    /// Address width: 32 or 128.
    pub(crate) bits: u32,
    /// Interface tokens.
    pub(crate) ifaces: &'a Interfaces,
}

impl Ctx<'_> {
    fn v6(&self) -> bool {
        self.bits == 128
    }
}

/// Why a value could not be placed in the space.
#[derive(Debug)]
pub(crate) enum Why {
    /// Understood, but not a dimension of the space (the match becomes "maybe").
    Unmodelled,
    /// Not understood at all (the match becomes "maybe" and is reported).
    Unknown(String),
}

/// A packet field, as far as the space is concerned.
#[derive(Debug, Clone)]
pub(crate) enum Left {
    /// A dimension; `dep` is what the field implies (`tcp dport` implies TCP).
    Dim { dim: usize, dep: Region },
    /// `ip6 nexthdr`: the first next header, the transport protocol unless extension headers
    /// come first.
    Nexthdr,
    /// `meta nfproto` or `meta protocol`: which family the packet is.
    Family,
    /// A field the space does not model; it can only hold within `dep`.
    Unmodelled(Region),
    /// A field of the other family: never present.
    Never,
    /// An expression the model did not know.
    Unknown(String),
}

/// The field an expression reads.
pub(crate) fn left(e: &Expr, ctx: &Ctx<'_>) -> Left {
    let space = &ctx.space;
    match e {
        Expr::Payload(Payload::Named { protocol, field }) => {
            let dep = match protocol.as_str() {
                "ip" if ctx.v6() => return Left::Never,
                "ip6" if !ctx.v6() => return Left::Never,
                "ip" | "ip6" | "th" => space.universe(),
                other => match values::proto_value(other) {
                    Some(n) => space.with(PROTO, values::proto_set([n])),
                    None => space.universe(),
                },
            };
            match (protocol.as_str(), field.as_str()) {
                ("ip" | "ip6", "saddr") => Left::Dim { dim: SADDR, dep },
                ("ip" | "ip6", "daddr") => Left::Dim { dim: DADDR, dep },
                ("ip", "protocol") => Left::Dim { dim: PROTO, dep },
                ("ip6", "nexthdr") => Left::Nexthdr,
                ("tcp" | "udp" | "sctp" | "dccp" | "udplite" | "th", "dport") => {
                    Left::Dim { dim: DPORT, dep }
                }
                _ => Left::Unmodelled(dep),
            }
        }
        Expr::Meta(m) => match m.key.as_str() {
            "l4proto" => Left::Dim {
                dim: PROTO,
                dep: space.universe(),
            },
            "nfproto" | "protocol" => Left::Family,
            "iifname" | "iif" => Left::Dim {
                dim: IIF,
                dep: space.universe(),
            },
            "oifname" | "oif" => Left::Dim {
                dim: OIF,
                dep: space.universe(),
            },
            _ => Left::Unmodelled(space.universe()),
        },
        Expr::Ct(c) if c.key == "state" && c.dir.is_none() && c.family.is_none() => Left::Dim {
            dim: CT,
            dep: space.universe(),
        },
        Expr::Unknown(v) => Left::Unknown(format!("unknown expression {v}")),
        _ => Left::Unmodelled(space.universe()),
    }
}

/// The condition `lefts[0] . lefts[1] … OP right` (one left unless it is a concatenation).
pub(crate) fn condition(
    lefts: &[Left],
    op: MatchOp,
    right: &Expr,
    table: &Table,
    ctx: &Ctx<'_>,
) -> (Cond, Option<String>) {
    let space = &ctx.space;
    if lefts.iter().any(|l| matches!(l, Left::Never)) {
        return (Cond::never(), None);
    }
    let dep = lefts.iter().fold(space.universe(), |acc, l| match l {
        Left::Dim { dep, .. } | Left::Unmodelled(dep) => acc.intersect(dep).unwrap_or(acc),
        _ => acc,
    });
    if let Some(reason) = lefts.iter().find_map(|l| match l {
        Left::Unknown(r) => Some(r.clone()),
        _ => None,
    }) {
        return (Cond::maybe_in(dep), Some(reason));
    }
    if let [single] = lefts {
        if let Some(cond) = scalar_condition(single, op, right, table, ctx) {
            return match cond {
                Ok(c) => (c.tidy(space), None),
                Err(Why::Unmodelled) => (Cond::maybe_in(dep), None),
                Err(Why::Unknown(r)) => (Cond::maybe_in(dep), Some(r)),
            };
        }
    }
    let eq = match op {
        MatchOp::Eq | MatchOp::In | MatchOp::Ne => elements_condition(lefts, right, table, ctx),
        _ => Err(Why::Unmodelled),
    };
    match eq {
        Ok(c) if op == MatchOp::Ne => (c.tidy(space).negate_within(&dep, space), None),
        Ok(c) => (c.tidy(space), None),
        Err(Why::Unmodelled) => (Cond::maybe_in(dep), None),
        Err(Why::Unknown(r)) => (Cond::maybe_in(dep), Some(r)),
    }
}

/// One modelled field against a value set; `None` when the general element path applies.
fn scalar_condition(
    left: &Left,
    op: MatchOp,
    right: &Expr,
    table: &Table,
    ctx: &Ctx<'_>,
) -> Option<Result<Cond, Why>> {
    let space = &ctx.space;
    match left {
        Left::Dim { dim, dep } => Some((|| {
            let set = match op {
                MatchOp::Eq | MatchOp::In | MatchOp::Ne => dim_values(*dim, right, table, ctx)?,
                _ => ordered(*dim, op, right, ctx)?,
            };
            let set = match op {
                MatchOp::Ne => Ivs::one(0, space.max(*dim)).minus(&set),
                _ => set,
            };
            let mut r = dep.clone();
            r.set(*dim, dep.dim(*dim).intersect(&set));
            Ok(if r.is_empty() {
                Cond::never()
            } else {
                Cond::exactly(r)
            })
        })()),
        Left::Family => Some((|| {
            let own = if ctx.v6() {
                ["ipv6", "ip6", "10", "34525"]
            } else {
                ["ipv4", "ip", "2", "2048"]
            };
            let mut hit = false;
            for e in elements(right, table)? {
                let name = match e {
                    Expr::String(s) => s.clone(),
                    Expr::Number(n) => n.to_string(),
                    _ => return Err(Why::Unmodelled),
                };
                hit |= own.contains(&name.as_str());
            }
            let holds = match op {
                MatchOp::Eq | MatchOp::In => hit,
                MatchOp::Ne => !hit,
                _ => return Err(Why::Unmodelled),
            };
            Ok(if holds {
                Cond::exactly(space.universe())
            } else {
                Cond::never()
            })
        })()),
        Left::Nexthdr => Some((|| {
            let set = dim_values(PROTO, right, table, ctx)?;
            let ext = values::proto_set(values::IPV6_EXTENSION_HEADERS);
            if set.intersects(&ext) {
                return Err(Why::Unmodelled);
            }
            let rest = Ivs::one(0, space.max(PROTO)).minus(&set);
            Ok(match op {
                MatchOp::Eq | MatchOp::In => Cond::maybe_in(space.with(PROTO, set)),
                MatchOp::Ne => Cond {
                    def: vec![space.with(PROTO, rest)],
                    maybe: vec![space.with(PROTO, set)],
                },
                _ => return Err(Why::Unmodelled),
            })
        })()),
        _ => None,
    }
}

/// `<`, `>`, `<=`, `>=` against one number or address.
fn ordered(dim: usize, op: MatchOp, right: &Expr, ctx: &Ctx<'_>) -> Result<Ivs, Why> {
    let max = ctx.space.max(dim);
    if dim == PROTO {
        let n = match right {
            Expr::Number(n) => n.as_u64().and_then(|v| u8::try_from(v).ok()),
            Expr::String(s) => values::proto_value(s),
            _ => None,
        }
        .ok_or(Why::Unmodelled)?;
        let numbers: Vec<u8> = (0..=255u8)
            .filter(|&p| match op {
                MatchOp::Lt => p < n,
                MatchOp::Gt => p > n,
                MatchOp::Le => p <= n,
                _ => p >= n,
            })
            .collect();
        return Ok(values::proto_set(numbers));
    }
    if !matches!(dim, DPORT | SADDR | DADDR) {
        return Err(Why::Unmodelled);
    }
    let (v, _) = scalar(dim, right, ctx)?;
    let iv = match op {
        MatchOp::Lt if v == 0 => return Ok(Ivs::empty()),
        MatchOp::Lt => (0, v - 1),
        MatchOp::Le => (0, v),
        MatchOp::Gt if v >= max => return Ok(Ivs::empty()),
        MatchOp::Gt => (v + 1, max),
        _ => (v, max),
    };
    Ok(Ivs::one(iv.0, iv.1))
}

/// Element-wise: each element of the right side (a concatenation for a concatenated left)
/// becomes a region; elements with an unmodelled part become "maybe".
fn elements_condition(
    lefts: &[Left],
    right: &Expr,
    table: &Table,
    ctx: &Ctx<'_>,
) -> Result<Cond, Why> {
    let mut cond = Cond::never();
    for e in elements(right, table)? {
        let parts: Vec<&Expr> = match (lefts.len(), e) {
            (1, e) => vec![e],
            (_, Expr::Concat(parts)) if parts.len() == lefts.len() => parts.iter().collect(),
            _ => return Err(Why::Unknown(format!("element {e:?} does not fit the key"))),
        };
        let mut region = ctx.space.universe();
        let mut maybe = false;
        let mut never = false;
        for (l, v) in lefts.iter().zip(parts) {
            match l {
                Left::Dim { dim, dep } => {
                    let set = dim_values(*dim, v, table, ctx)?;
                    let mut c = dep.clone();
                    c.set(*dim, dep.dim(*dim).intersect(&set));
                    match region.intersect(&c) {
                        Some(r) => region = r,
                        None => never = true,
                    }
                }
                Left::Unmodelled(dep) => {
                    maybe = true;
                    region = region.intersect(dep).unwrap_or(region);
                }
                Left::Family | Left::Nexthdr => maybe = true,
                Left::Never => never = true,
                Left::Unknown(r) => return Err(Why::Unknown(r.clone())),
            }
        }
        if never {
            continue;
        }
        if maybe {
            cond.maybe.push(region);
        } else {
            cond.def.push(region);
        }
    }
    Ok(cond)
}

/// The elements a right side names: an anonymous set's, a named set's, a flag list's, or the
/// value itself.
pub(crate) fn elements<'t>(right: &'t Expr, table: &'t Table) -> Result<Vec<&'t Expr>, Why> {
    let mut out = Vec::new();
    collect(right, table, &mut out)?;
    Ok(out)
}

fn collect<'t>(e: &'t Expr, table: &'t Table, out: &mut Vec<&'t Expr>) -> Result<(), Why> {
    match e {
        Expr::Set(items) | Expr::List(items) => {
            for item in items {
                collect(item, table, out)?;
            }
        }
        Expr::SetRef(name) => {
            let set = table.sets.get(name).ok_or_else(|| {
                Why::Unknown(format!("set @{name} is not in table {}", table.key()))
            })?;
            if set.has_flag("dynamic") {
                return Err(Why::Unknown(format!(
                    "set @{name} is filled from the packet path: its elements are runtime state"
                )));
            }
            for item in &set.elements {
                collect(item, table, out)?;
            }
        }
        Expr::Elem(elem) => collect(&elem.val, table, out)?,
        other => out.push(other),
    }
    Ok(())
}

/// The values of dimension `dim` a right side names.
fn dim_values(dim: usize, right: &Expr, table: &Table, ctx: &Ctx<'_>) -> Result<Ivs, Why> {
    let mut ivs: Vec<Iv> = Vec::new();
    let mut sets: Vec<Ivs> = Vec::new();
    for e in elements(right, table)? {
        match e {
            Expr::Range(r) => {
                let (lo, _) = scalar(dim, &r.lo, ctx)?;
                let (_, hi) = scalar(dim, &r.hi, ctx)?;
                if dim == PROTO {
                    let numbers =
                        (values::proto_number(lo)..=values::proto_number(hi)).collect::<Vec<_>>();
                    sets.push(values::proto_set(numbers));
                } else if lo <= hi {
                    ivs.push((lo, hi));
                }
            }
            Expr::Prefix(p) if matches!(dim, SADDR | DADDR) => {
                let (addr, _) = scalar(dim, &p.addr, ctx)?;
                let iv = values::prefix_interval(addr, p.len, ctx.bits)
                    .ok_or_else(|| Why::Unknown(format!("bad prefix length {}", p.len)))?;
                ivs.push(iv);
            }
            Expr::String(s) if matches!(dim, IIF | OIF) => {
                let set = ctx.ifaces.matching(s);
                if set.is_empty() {
                    return Err(Why::Unmodelled);
                }
                sets.push(set);
            }
            other => ivs.push(scalar(dim, other, ctx)?),
        }
    }
    let mut out = Ivs::from_unsorted(ivs);
    for s in sets {
        out = out.union(&s);
    }
    Ok(out)
}

/// One value of dimension `dim`, as an interval of codes (a single value but for interfaces).
fn scalar(dim: usize, e: &Expr, ctx: &Ctx<'_>) -> Result<Iv, Why> {
    let bad = || {
        Why::Unknown(format!(
            "value {e:?} is not a valid {}",
            DIM_NAMES.get(dim).copied().unwrap_or("?")
        ))
    };
    let v = match (dim, e) {
        (SADDR | DADDR, Expr::String(s)) => values::addr_value(s, ctx.bits).ok_or_else(bad)?,
        (DPORT, Expr::Number(n)) => n
            .as_u64()
            .filter(|v| *v <= 65535)
            .map(u128::from)
            .ok_or_else(bad)?,
        (DPORT, Expr::String(s)) => values::port_value(s).ok_or(Why::Unmodelled)?,
        (PROTO, Expr::String(s)) => values::proto_code(values::proto_value(s).ok_or_else(bad)?),
        (PROTO, Expr::Number(n)) => {
            let n = n
                .as_u64()
                .and_then(|v| u8::try_from(v).ok())
                .ok_or_else(bad)?;
            values::proto_code(n)
        }
        (CT, Expr::String(s)) => values::CT_STATES
            .iter()
            .position(|c| c == s)
            .map(|i| i as u128)
            .ok_or_else(bad)?,
        (IIF | OIF, _) => return Err(Why::Unmodelled),
        _ => return Err(bad()),
    };
    Ok((v, v))
}

/// Dimension names for messages.
const DIM_NAMES: [&str; 7] = [
    "source address",
    "destination address",
    "input interface",
    "output interface",
    "conntrack state",
    "protocol",
    "port",
];
