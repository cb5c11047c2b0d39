//! Replay of an IMA measurement list into PCR banks (placeholder: being written).
