//! Traversal of statements and expressions: the direct children of each node, with the JSON
//! pointer of each child in the canonical document (for flags) or mutably (for normalisation).

use std::fmt;

use crate::model::{Counter, Expr, Limit, Quota, Stmt, Synproxy};

/// A JSON pointer (RFC 6901), built segment by segment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Path(String);

impl Path {
    pub(crate) fn root() -> Self {
        Self(String::new())
    }

    /// The pointer to member `k` of this value.
    pub(crate) fn key(&self, k: &str) -> Self {
        let mut s = String::with_capacity(self.0.len() + k.len() + 1);
        s.push_str(&self.0);
        s.push('/');
        for c in k.chars() {
            match c {
                '~' => s.push_str("~0"),
                '/' => s.push_str("~1"),
                c => s.push(c),
            }
        }
        Self(s)
    }

    /// The pointer to element `i` of this array.
    pub(crate) fn index(&self, i: usize) -> Self {
        Self(format!("{}/{i}", self.0))
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A child node.
pub(crate) enum Child<'a> {
    Expr(&'a Expr),
    Stmt(&'a Stmt),
}

/// A child node, mutably.
pub(crate) enum ChildMut<'a> {
    Expr(&'a mut Expr),
    Stmt(&'a mut Stmt),
}

/// Calls `f` with each direct child of `stmt` (at `path`) and the child's pointer.
pub(crate) fn stmt_children<'a>(stmt: &'a Stmt, path: &Path, f: &mut dyn FnMut(Path, Child<'a>)) {
    let body = path.key(stmt.key());
    let mut e = |name: &str, x: &'a Expr| f(body.key(name), Child::Expr(x));
    match stmt {
        Stmt::Match(m) => {
            e("left", &m.left);
            e("right", &m.right);
        }
        Stmt::Mangle(m) => {
            e("key", &m.key);
            e("value", &m.value);
        }
        Stmt::Counter(Counter::Named(x))
        | Stmt::Quota(Quota::Named(x))
        | Stmt::Limit(Limit::Named(x))
        | Stmt::Synproxy(Synproxy::Named(x))
        | Stmt::CtHelper(x)
        | Stmt::CtTimeout(x)
        | Stmt::CtExpectation(x)
        | Stmt::Secmark(x)
        | Stmt::Reset(x) => f(body, Child::Expr(x)),
        Stmt::Fwd(x) => {
            if let Some(a) = &x.addr {
                e("addr", a);
            }
            e("dev", &x.dev);
        }
        Stmt::Dup(Some(x)) => {
            if let Some(a) = &x.addr {
                e("addr", a);
            }
            if let Some(d) = &x.dev {
                e("dev", d);
            }
        }
        Stmt::Nat(_, Some(x)) => {
            if let Some(a) = &x.addr {
                e("addr", a);
            }
            if let Some(p) = &x.port {
                e("port", p);
            }
        }
        Stmt::Reject(Some(x)) => {
            if let Some(a) = &x.expr {
                e("expr", a);
            }
        }
        Stmt::Set(x) => {
            e("elem", &x.elem);
            for (i, s) in x.stmt.iter().enumerate() {
                f(body.key("stmt").index(i), Child::Stmt(s));
            }
        }
        Stmt::Map(x) => {
            e("data", &x.data);
            e("elem", &x.elem);
            for (i, s) in x.stmt.iter().enumerate() {
                f(body.key("stmt").index(i), Child::Stmt(s));
            }
        }
        Stmt::Meter(x) => {
            e("key", &x.key);
            f(body.key("stmt"), Child::Stmt(&x.stmt));
        }
        Stmt::Queue(Some(x)) => {
            if let Some(n) = &x.num {
                e("num", n);
            }
        }
        Stmt::Vmap(x) => {
            e("data", &x.data);
            e("key", &x.key);
        }
        Stmt::Tproxy(x) => {
            if let Some(a) = &x.addr {
                e("addr", a);
            }
            if let Some(p) = &x.port {
                e("port", p);
            }
        }
        _ => {}
    }
}

/// Calls `f` with each direct child of `expr` (at `path`) and the child's pointer.
pub(crate) fn expr_children<'a>(expr: &'a Expr, path: &Path, f: &mut dyn FnMut(Path, Child<'a>)) {
    let mut list = |p: Path, items: &'a [Expr]| {
        for (i, x) in items.iter().enumerate() {
            f(p.index(i), Child::Expr(x));
        }
    };
    match expr {
        Expr::List(items) => list(path.clone(), items),
        Expr::Concat(items) => list(path.key("concat"), items),
        Expr::Set(items) => list(path.key("set"), items),
        Expr::Mapping(k, v) => {
            f(path.index(0), Child::Expr(k));
            f(path.index(1), Child::Expr(v));
        }
        Expr::Map(m) => {
            f(path.key("map").key("data"), Child::Expr(&m.data));
            f(path.key("map").key("key"), Child::Expr(&m.key));
        }
        Expr::Prefix(p) => f(path.key("prefix").key("addr"), Child::Expr(&p.addr)),
        Expr::Range(r) => {
            f(path.key("range").index(0), Child::Expr(&r.lo));
            f(path.key("range").index(1), Child::Expr(&r.hi));
        }
        Expr::Jhash(j) => f(path.key("jhash").key("expr"), Child::Expr(&j.expr)),
        Expr::Binop(b) => {
            let p = path.key(b.op.symbol());
            f(p.index(0), Child::Expr(&b.left));
            f(p.index(1), Child::Expr(&b.right));
        }
        Expr::Elem(e) => {
            let p = path.key("elem");
            f(p.key("val"), Child::Expr(&e.val));
            for s in &e.stmts {
                f(p.clone(), Child::Stmt(s));
            }
        }
        _ => {}
    }
}

/// Calls `f` with each direct child of `stmt`, mutably.
pub(crate) fn stmt_children_mut(stmt: &mut Stmt, f: &mut dyn FnMut(ChildMut<'_>)) {
    let mut e = |x: &mut Expr| f(ChildMut::Expr(x));
    match stmt {
        Stmt::Match(m) => {
            e(&mut m.left);
            e(&mut m.right);
        }
        Stmt::Mangle(m) => {
            e(&mut m.key);
            e(&mut m.value);
        }
        Stmt::Counter(Counter::Named(x))
        | Stmt::Quota(Quota::Named(x))
        | Stmt::Limit(Limit::Named(x))
        | Stmt::Synproxy(Synproxy::Named(x))
        | Stmt::CtHelper(x)
        | Stmt::CtTimeout(x)
        | Stmt::CtExpectation(x)
        | Stmt::Secmark(x)
        | Stmt::Reset(x) => e(x),
        Stmt::Fwd(x) => {
            x.addr.iter_mut().for_each(&mut e);
            e(&mut x.dev);
        }
        Stmt::Dup(Some(x)) => {
            x.addr.iter_mut().for_each(&mut e);
            x.dev.iter_mut().for_each(&mut e);
        }
        Stmt::Nat(_, Some(x)) => {
            x.addr.iter_mut().for_each(&mut e);
            x.port.iter_mut().for_each(&mut e);
        }
        Stmt::Reject(Some(x)) => x.expr.iter_mut().for_each(&mut e),
        Stmt::Set(x) => {
            e(&mut x.elem);
            x.stmt.iter_mut().for_each(|s| f(ChildMut::Stmt(s)));
        }
        Stmt::Map(x) => {
            e(&mut x.data);
            e(&mut x.elem);
            x.stmt.iter_mut().for_each(|s| f(ChildMut::Stmt(s)));
        }
        Stmt::Meter(x) => {
            e(&mut x.key);
            f(ChildMut::Stmt(&mut x.stmt));
        }
        Stmt::Queue(Some(x)) => x.num.iter_mut().for_each(&mut e),
        Stmt::Vmap(x) => {
            e(&mut x.data);
            e(&mut x.key);
        }
        Stmt::Tproxy(x) => {
            x.addr.iter_mut().for_each(&mut e);
            x.port.iter_mut().for_each(&mut e);
        }
        _ => {}
    }
}

/// Calls `f` with each direct child of `expr`, mutably.
pub(crate) fn expr_children_mut(expr: &mut Expr, f: &mut dyn FnMut(ChildMut<'_>)) {
    match expr {
        Expr::List(items) | Expr::Concat(items) | Expr::Set(items) => {
            items.iter_mut().for_each(|x| f(ChildMut::Expr(x)));
        }
        Expr::Mapping(k, v) => {
            f(ChildMut::Expr(k));
            f(ChildMut::Expr(v));
        }
        Expr::Map(m) => {
            f(ChildMut::Expr(&mut m.data));
            f(ChildMut::Expr(&mut m.key));
        }
        Expr::Prefix(p) => f(ChildMut::Expr(&mut p.addr)),
        Expr::Range(r) => {
            f(ChildMut::Expr(&mut r.lo));
            f(ChildMut::Expr(&mut r.hi));
        }
        Expr::Jhash(j) => f(ChildMut::Expr(&mut j.expr)),
        Expr::Binop(b) => {
            f(ChildMut::Expr(&mut b.left));
            f(ChildMut::Expr(&mut b.right));
        }
        Expr::Elem(e) => {
            f(ChildMut::Expr(&mut e.val));
            e.stmts.iter_mut().for_each(|s| f(ChildMut::Stmt(s)));
        }
        _ => {}
    }
}
