//! `palisade`: the operator CLI.

fn main() {}
