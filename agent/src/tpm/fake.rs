//! A software stand-in for the TPM's PCR bank, for unit tests of the logic around the TPM
//! (log recovery, measurement). It cannot quote or activate credentials: tests that need those
//! use swtpm. Clones share one state, so a test can keep a clone to inspect or tamper with it.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{QuoteBlob, Tpm, TpmClock, TpmError, TpmIdentity};
use palisade_evidence::Sha256Digest;

/// The state of the fake TPM.
#[derive(Debug, Clone)]
pub struct FakeState {
    /// PCR values.
    pub pcrs: [Sha256Digest; 24],
    /// Clock returned by [`Tpm::clock`].
    pub clock: TpmClock,
    /// When set, [`Tpm::extend`] fails (to test error paths).
    pub fail_extend: bool,
}

/// SHA-256 PCR bank and counters in memory.
#[derive(Debug, Clone)]
pub struct FakeTpm {
    state: Arc<Mutex<FakeState>>,
}

impl Default for FakeTpm {
    fn default() -> Self {
        let state = FakeState {
            pcrs: [Sha256Digest::ZERO; 24],
            clock: TpmClock {
                clock: 1000,
                reset_count: 3,
                restart_count: 0,
                safe: true,
            },
            fail_extend: false,
        };
        Self {
            state: Arc::new(Mutex::new(state)),
        }
    }
}

impl FakeTpm {
    /// The shared state.
    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn unsupported(what: &str) -> TpmError {
    TpmError::InvalidRequest(format!("the fake TPM cannot {what}"))
}

fn bad_pcr(pcr: u8) -> TpmError {
    TpmError::InvalidRequest(format!("PCR {pcr} does not exist"))
}

impl Tpm for FakeTpm {
    fn identity(&mut self) -> Result<TpmIdentity, TpmError> {
        Err(unsupported("provide keys"))
    }

    fn read_pcrs(&mut self, pcrs: &[u8]) -> Result<Vec<[u8; 32]>, TpmError> {
        let state = self.state();
        pcrs.iter()
            .map(|p| {
                state
                    .pcrs
                    .get(usize::from(*p))
                    .map(|d| d.0)
                    .ok_or_else(|| bad_pcr(*p))
            })
            .collect()
    }

    fn extend(&mut self, pcr: u8, digest: &[u8; 32]) -> Result<(), TpmError> {
        let mut state = self.state();
        if state.fail_extend {
            return Err(unsupported("extend right now"));
        }
        let slot = state
            .pcrs
            .get_mut(usize::from(pcr))
            .ok_or_else(|| bad_pcr(pcr))?;
        *slot = slot.extend(&Sha256Digest(*digest));
        Ok(())
    }

    fn quote(&mut self, _nonce: &[u8], _pcrs: &[u8]) -> Result<QuoteBlob, TpmError> {
        Err(unsupported("quote"))
    }

    fn activate_credential(&mut self, _blob: &[u8], _secret: &[u8]) -> Result<Vec<u8>, TpmError> {
        Err(unsupported("activate credentials"))
    }

    fn clock(&mut self) -> Result<TpmClock, TpmError> {
        Ok(self.state().clock)
    }
}
