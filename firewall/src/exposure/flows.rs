//! Packets on their way through a chain, kept apart by *taint*: the dimensions whose class
//! value no longer describes the packet (after NAT, `notrack`, …), since conditions read
//! those dimensions differently. There are only ever a handful of taints.

use super::bdd::{Bdd, Exhausted, Manager, FALSE};

/// Sets of packets by taint (each taint at most once, no empty sets).
#[derive(Debug, Clone, Default)]
pub(crate) struct Flows(Vec<(u8, Bdd)>);

impl Flows {
    /// `set` with `taint`.
    pub(crate) fn one(taint: u8, set: Bdd) -> Self {
        let mut f = Self::default();
        if set != FALSE {
            f.0.push((taint, set));
        }
        f
    }

    /// Whether no packet is here.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds `set` with `taint`.
    pub(crate) fn add(&mut self, m: &mut Manager, taint: u8, set: Bdd) -> Result<(), Exhausted> {
        if set == FALSE {
            return Ok(());
        }
        match self.0.iter_mut().find(|(t, _)| *t == taint) {
            Some((_, s)) => *s = m.or(*s, set)?,
            None => self.0.push((taint, set)),
        }
        Ok(())
    }

    /// Adds every flow of `other`.
    pub(crate) fn union(&mut self, m: &mut Manager, other: Self) -> Result<(), Exhausted> {
        for (t, s) in other.0 {
            self.add(m, t, s)?;
        }
        Ok(())
    }

    /// `(taint, set)` pairs.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u8, Bdd)> + '_ {
        self.0.iter().copied()
    }

    /// The sets (garbage-collection roots).
    pub(crate) fn sets(&self) -> impl Iterator<Item = Bdd> + '_ {
        self.0.iter().map(|p| p.1)
    }

    /// The pairs, for processing one by one.
    pub(crate) fn into_vec(self) -> Vec<(u8, Bdd)> {
        self.0
    }

    /// Every packet, whatever its taint.
    pub(crate) fn all(&self, m: &mut Manager) -> Result<Bdd, Exhausted> {
        let mut acc = FALSE;
        for (_, s) in &self.0 {
            acc = m.or(acc, *s)?;
        }
        Ok(acc)
    }
}
