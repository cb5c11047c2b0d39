//! Reduced ordered binary decision diagrams: the representation of traffic sets that lets the
//! exposure engine scale. A set of packets is a boolean function of the header bits; equal
//! sets are the same node, and an operation only visits the part of its operands that differ,
//! so a rule that touches one port costs the depth of that port's path, not the number of
//! fragments the rest of the ruleset has cut the space into.
//!
//! Nodes live in one arena with a hash-consing table and a lossy operation cache (fixed size,
//! like CUDD's). Memory is bounded: [`Manager::gc`] frees what the caller's roots no longer
//! reach, and allocation fails with [`Exhausted`] beyond the node budget, which the evaluator
//! turns into a conservative ("everything possible") result.

mod convert;

pub(crate) use convert::Vars;

/// A node: a set of packets.
pub(crate) type Bdd = u32;
/// The empty set.
pub(crate) const FALSE: Bdd = 0;
/// Every assignment of the variables.
pub(crate) const TRUE: Bdd = 1;

/// Variable index of the terminals (below every real variable).
const TERMINAL: u16 = u16::MAX;
/// Marks a node on the free list.
const FREED: u16 = u16::MAX - 1;
/// Operation-cache entries (a power of two).
const CACHE_SIZE: usize = 1 << 18;

/// The node budget was exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted;

#[derive(Debug, Clone, Copy)]
struct Node {
    var: u16,
    lo: u32,
    hi: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    And = 0,
    Or = 1,
    Diff = 2,
    Meets = 3,
}

#[derive(Debug, Clone, Copy)]
struct CacheEntry {
    a: u32,
    b: u32,
    op: u32,
    r: u32,
}

const NO_ENTRY: CacheEntry = CacheEntry {
    a: 0,
    b: 0,
    op: u32::MAX,
    r: 0,
};

/// The node arena with its unique table and operation cache.
#[derive(Debug)]
pub(crate) struct Manager {
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Open addressing, linear probing, node numbers; 0 marks an empty slot (node 0 is a
    /// terminal). Four bytes a slot: the table is most of the manager's memory.
    unique: Vec<u32>,
    cache: Vec<CacheEntry>,
    live: usize,
    budget: usize,
}

fn mix(a: u32, b: u32, c: u32) -> usize {
    let x = (u64::from(a) << 32 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(c).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    (x ^ (x >> 29)) as usize
}

impl Manager {
    /// An empty manager that holds at most `budget` live nodes.
    pub(crate) fn new(budget: usize) -> Self {
        let terminal = |v| Node {
            var: TERMINAL,
            lo: v,
            hi: v,
        };
        Self {
            nodes: vec![terminal(0), terminal(1)],
            free: Vec::new(),
            unique: vec![0; 1 << 12],
            cache: vec![NO_ENTRY; CACHE_SIZE],
            live: 2,
            budget: budget.max(16),
        }
    }

    /// Live nodes (terminals included).
    pub(crate) fn live(&self) -> usize {
        self.live
    }

    fn node(&self, f: Bdd) -> Node {
        self.nodes.get(f as usize).copied().unwrap_or(Node {
            var: TERMINAL,
            lo: 0,
            hi: 0,
        })
    }

    /// The variable `f` tests first (`u16::MAX` for a terminal).
    pub(crate) fn var(&self, f: Bdd) -> u16 {
        self.node(f).var
    }

    /// The branches of `f` (a terminal is its own branches).
    pub(crate) fn branches(&self, f: Bdd) -> (Bdd, Bdd) {
        if f <= TRUE {
            return (f, f);
        }
        let n = self.node(f);
        (n.lo, n.hi)
    }

    /// The node testing `var` with these branches.
    pub(crate) fn mk(&mut self, var: u16, lo: Bdd, hi: Bdd) -> Result<Bdd, Exhausted> {
        if lo == hi {
            return Ok(lo);
        }
        let mask = self.unique.len() - 1;
        let mut i = mix(u32::from(var), lo, hi) & mask;
        while let Some(&id) = self.unique.get(i) {
            if id == 0 {
                break;
            }
            let n = self.node(id);
            if n.var == var && n.lo == lo && n.hi == hi {
                return Ok(id);
            }
            i = (i + 1) & mask;
        }
        if self.live >= self.budget {
            return Err(Exhausted);
        }
        let node = Node { var, lo, hi };
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.nodes.get_mut(id as usize) {
                    *slot = node;
                }
                id
            }
            None => {
                self.nodes.push(node);
                u32::try_from(self.nodes.len() - 1).map_err(|_| Exhausted)?
            }
        };
        if let Some(slot) = self.unique.get_mut(i) {
            *slot = id;
        }
        self.live += 1;
        if self.live * 2 > self.unique.len() {
            self.rehash(self.unique.len() * 2);
        }
        Ok(id)
    }

    /// Rebuilds the unique table with `size` slots (reusing the allocation when the size does
    /// not change).
    fn rehash(&mut self, size: usize) {
        let mut table = std::mem::take(&mut self.unique);
        if table.len() == size {
            table.fill(0);
        } else {
            table = vec![0; size];
        }
        let mask = size - 1;
        for (id, n) in self.nodes.iter().enumerate().skip(2) {
            if n.var == FREED {
                continue;
            }
            let mut i = mix(u32::from(n.var), n.lo, n.hi) & mask;
            while table.get(i).is_some_and(|&s| s != 0) {
                i = (i + 1) & mask;
            }
            if let Some(slot) = table.get_mut(i) {
                *slot = id as u32;
            }
        }
        self.unique = table;
    }

    /// `a ∩ b`.
    pub(crate) fn and(&mut self, a: Bdd, b: Bdd) -> Result<Bdd, Exhausted> {
        self.apply(Op::And, a, b)
    }

    /// `a ∪ b`.
    pub(crate) fn or(&mut self, a: Bdd, b: Bdd) -> Result<Bdd, Exhausted> {
        self.apply(Op::Or, a, b)
    }

    /// `a \ b`.
    pub(crate) fn diff(&mut self, a: Bdd, b: Bdd) -> Result<Bdd, Exhausted> {
        self.apply(Op::Diff, a, b)
    }

    /// Whether `a` and `b` share an element (builds nothing).
    pub(crate) fn meets(&mut self, a: Bdd, b: Bdd) -> bool {
        matches!(self.apply(Op::Meets, a, b), Ok(TRUE))
    }

    fn terminal(op: Op, a: Bdd, b: Bdd) -> Option<Bdd> {
        match op {
            Op::And | Op::Meets if a == FALSE || b == FALSE => Some(FALSE),
            Op::And if a == TRUE || a == b => Some(b),
            Op::And if b == TRUE => Some(a),
            Op::Meets if a == TRUE || b == TRUE || a == b => Some(TRUE),
            Op::Or if a == TRUE || b == TRUE => Some(TRUE),
            Op::Or if a == FALSE || a == b => Some(b),
            Op::Or if b == FALSE => Some(a),
            Op::Diff if a == FALSE || b == TRUE || a == b => Some(FALSE),
            Op::Diff if b == FALSE => Some(a),
            _ => None,
        }
    }

    fn apply(&mut self, op: Op, a: Bdd, b: Bdd) -> Result<Bdd, Exhausted> {
        if let Some(r) = Self::terminal(op, a, b) {
            return Ok(r);
        }
        let (a, b) = if op != Op::Diff && a > b {
            (b, a)
        } else {
            (a, b)
        };
        let slot = mix(a, b, op as u32) & (CACHE_SIZE - 1);
        if let Some(e) = self.cache.get(slot) {
            if e.op == op as u32 && e.a == a && e.b == b {
                return Ok(e.r);
            }
        }
        let (na, nb) = (self.node(a), self.node(b));
        let v = na.var.min(nb.var);
        let (a0, a1) = if na.var == v { (na.lo, na.hi) } else { (a, a) };
        let (b0, b1) = if nb.var == v { (nb.lo, nb.hi) } else { (b, b) };
        let r = if op == Op::Meets {
            let lo = self.apply(op, a0, b0)?;
            if lo == TRUE {
                TRUE
            } else {
                self.apply(op, a1, b1)?
            }
        } else {
            let lo = self.apply(op, a0, b0)?;
            let hi = self.apply(op, a1, b1)?;
            self.mk(v, lo, hi)?
        };
        if let Some(e) = self.cache.get_mut(slot) {
            *e = CacheEntry {
                a,
                b,
                op: op as u32,
                r,
            };
        }
        Ok(r)
    }

    /// Frees every node that none of `roots` reaches. Node numbers of the survivors do not
    /// change; the operation cache is emptied.
    pub(crate) fn gc(&mut self, roots: impl IntoIterator<Item = Bdd>) {
        let mut marked = vec![false; self.nodes.len()];
        let mut stack: Vec<Bdd> = roots.into_iter().filter(|&r| r > TRUE).collect();
        while let Some(f) = stack.pop() {
            match marked.get_mut(f as usize) {
                Some(m) if !*m => *m = true,
                _ => continue,
            }
            let n = self.node(f);
            for child in [n.lo, n.hi] {
                if child > TRUE {
                    stack.push(child);
                }
            }
        }
        for (id, (n, keep)) in self.nodes.iter_mut().zip(&marked).enumerate().skip(2) {
            if !keep && n.var != FREED {
                n.var = FREED;
                self.free.push(id as u32);
                self.live -= 1;
            }
        }
        self.rehash(self.unique.len());
        self.cache.fill(NO_ENTRY);
    }
}

#[cfg(test)]
mod tests;
