//! `palisade-verifier`: the verifier daemon.

fn main() {}
