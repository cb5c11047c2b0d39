//! The policies palisade ships, compiled into the binary.

use crate::engine::{Limits, Policy, PolicyError};

/// Name of the foundation firewall baseline.
pub const FOUNDATION_NAME: &str = "foundation-firewall";

/// Sources of the foundation firewall baseline.
pub const FOUNDATION_MODULES: &[(&str, &str)] = &[(
    "foundation/firewall.rego",
    include_str!("../policies/foundation/firewall.rego"),
)];

/// The foundation firewall baseline: input hook default-drop, no tcp/22 accepted.
pub fn foundation(limits: Limits) -> Result<Policy, PolicyError> {
    let modules = FOUNDATION_MODULES
        .iter()
        .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
        .collect();
    Policy::load(FOUNDATION_NAME, 1, modules, limits)
}
