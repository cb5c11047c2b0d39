//! `palisade-agent`: the host daemon.

fn main() {}
