//! TCG2 crypto-agile UEFI event log (placeholder: being written).
