//! Keylime-compatible IMA runtime policy (placeholder: being written).
