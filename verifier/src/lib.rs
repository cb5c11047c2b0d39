//! The palisade verifier as a library.
