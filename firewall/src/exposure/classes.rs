//! From the sets a path accepts to classes that name the rules accepting them: the labels of
//! successive base chains are combined, and at the end each class is split into the part no
//! chain may drop (certain) and the rest (possible), and cut into boxes for the report.

use super::bdd::{Bdd, Exhausted, FALSE};
use super::eval::Eval;
use super::index::LiveSet;
use super::Live;

/// What one base chain let through: the accepting rule's label (`None`: the packets passed
/// the chain by, or a policy not reported), the taint, the packets.
pub(crate) type Labelled = (Option<u32>, u8, Bdd);

/// Most rules a class's `via` names.
pub(crate) const MAX_VIA: usize = 8;

/// Above this many pairs of classes and chain outcomes, classes are combined through boxes
/// and an index instead of pairwise.
const PAIRWISE_MAX: usize = 1 << 20;

/// Packets accepted so far along one sequence of rules.
#[derive(Debug, Clone)]
pub(crate) struct SetClass {
    /// The accepting rules, one per base chain that named one.
    pub(crate) via: Vec<u32>,
    pub(crate) taint: u8,
    pub(crate) set: Bdd,
}

/// The classes after one more base chain: each class so far, cut by what this chain accepted
/// of it, with the accepting rule added to its `via`. `None` for `classes`: no chain yet.
pub(crate) fn combine(
    eval: &mut Eval<'_>,
    classes: Option<Vec<SetClass>>,
    out: Vec<Labelled>,
) -> Result<Vec<SetClass>, Exhausted> {
    let out = group(eval, out)?;
    let Some(classes) = classes else {
        return Ok(out
            .into_iter()
            .map(|(label, taint, set)| SetClass {
                via: label.into_iter().collect(),
                taint,
                set,
            })
            .collect());
    };
    if classes.len().saturating_mul(out.len()) > PAIRWISE_MAX {
        return through_boxes(eval, classes, out);
    }
    let mut next = Vec::new();
    for &(label, taint, set) in &out {
        for c in &classes {
            // Taint only grows along a path.
            if c.taint & !taint != 0 {
                continue;
            }
            let both = eval.m.and(c.set, set)?;
            if both != FALSE {
                next.push(SetClass {
                    via: with_label(&c.via, label),
                    taint,
                    set: both,
                });
            }
        }
    }
    Ok(next)
}

/// [`combine`] for many classes and outcomes: boxes found through an index, not every pair.
fn through_boxes(
    eval: &mut Eval<'_>,
    classes: Vec<SetClass>,
    out: Vec<Labelled>,
) -> Result<Vec<SetClass>, Exhausted> {
    let space = eval.ctx.space.clone();
    let mut index = LiveSet::new(&space);
    for (i, c) in classes.iter().enumerate() {
        let (boxes, _) = eval.vars.boxes(&eval.m, c.set, &space);
        // The index files regions; `via` carries the class's number.
        index.extend(boxes.into_iter().map(|region| Live {
            region,
            certain: true,
            via: vec![u32::try_from(i).unwrap_or(u32::MAX)],
        }));
    }
    let mut next: Vec<SetClass> = Vec::new();
    for (label, taint, set) in out {
        let (boxes, _) = eval.vars.boxes(&eval.m, set, &space);
        for region in boxes {
            let cands = index.take_intersecting(&region);
            for cand in &cands {
                let Some(c) = cand.via.first().and_then(|&i| classes.get(i as usize)) else {
                    continue;
                };
                if c.taint & !taint != 0 {
                    continue;
                }
                let Some(r) = cand.region.intersect(&region) else {
                    continue;
                };
                let piece = eval.vars.region(&mut eval.m, &r)?;
                next.push(SetClass {
                    via: with_label(&c.via, label),
                    taint,
                    set: piece,
                });
            }
            index.extend(cands);
        }
    }
    let grouped = group(
        eval,
        next.into_iter().map(|c| (c.via, c.taint, c.set)).collect(),
    )?;
    Ok(grouped
        .into_iter()
        .map(|(via, taint, set)| SetClass { via, taint, set })
        .collect())
}

fn with_label(via: &[u32], label: Option<u32>) -> Vec<u32> {
    let mut via = via.to_vec();
    if let Some(l) = label {
        if via.len() < MAX_VIA && !via.contains(&l) {
            via.push(l);
        }
    }
    via
}

/// One set per key and taint.
fn group<K: std::hash::Hash + Eq + Clone>(
    eval: &mut Eval<'_>,
    out: Vec<(K, u8, Bdd)>,
) -> Result<Vec<(K, u8, Bdd)>, Exhausted> {
    let mut grouped: Vec<(K, u8, Bdd)> = Vec::with_capacity(out.len());
    let mut at: std::collections::HashMap<(K, u8), usize> = std::collections::HashMap::new();
    for (key, taint, set) in out {
        if set == FALSE {
            continue;
        }
        match at
            .get(&(key.clone(), taint))
            .and_then(|&i| grouped.get_mut(i))
        {
            Some(g) => g.2 = eval.m.or(g.2, set)?,
            None => {
                at.insert((key.clone(), taint), grouped.len());
                grouped.push((key, taint, set));
            }
        }
    }
    Ok(grouped)
}

/// The classes as boxes, each split into what no chain on the path may drop (certain) and
/// the rest.
pub(crate) fn certainty(
    eval: &mut Eval<'_>,
    classes: Vec<SetClass>,
) -> Result<Vec<Live>, Exhausted> {
    let space = eval.ctx.space.clone();
    let mut out = Vec::with_capacity(classes.len());
    for c in classes {
        let maybe_dropped = eval.m.and(c.set, eval.dropped)?;
        let sure = eval.m.diff(c.set, maybe_dropped)?;
        for (set, certain) in [(sure, true), (maybe_dropped, false)] {
            if set == FALSE {
                continue;
            }
            let (boxes, exact) = eval.vars.boxes(&eval.m, set, &space);
            out.extend(boxes.into_iter().map(|region| Live {
                region,
                certain: certain && exact,
                via: c.via.clone(),
            }));
        }
    }
    Ok(out)
}
