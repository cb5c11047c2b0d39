//! Start-up decision: resume the stored log, or start a new one — and refuse to start when the
//! dedicated PCR is not where palisade's own log says it must be.

use palisade_evidence::log::BootBinding;
use palisade_evidence::log::{EventLog, LogEntry, LogError};
use palisade_evidence::Sha256Digest;

/// What to do with the stored log.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Same TPM boot, PCR agrees with the log: keep appending.
    Resume {
        /// The log rebuilt from disk.
        log: EventLog,
        /// The last stored entry was written but never extended (crash) and must be removed.
        drop_tail: bool,
    },
    /// No log for this TPM boot: start a new one (moving any old log aside).
    StartNew {
        /// A log of an earlier boot exists and must be archived.
        archive_old: bool,
    },
}

/// Why the agent refuses to start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecoveryError {
    /// A new log must start from a fresh PCR.
    #[error(
        "PCR {pcr} is {value}, not zero, at the start of a new log: something else extends it \
         (systemd, another agent?) — configure a PCR between 8 and 15 that nothing else uses"
    )]
    PcrNotFresh {
        /// The dedicated PCR.
        pcr: u8,
        /// Its value.
        value: Sha256Digest,
    },
    /// The PCR moved outside palisade during this boot.
    #[error(
        "PCR {pcr} is {actual} but palisade's log predicts {expected}: it was extended outside \
         palisade during this boot; refusing to continue a log that cannot be trusted (reboot to reset it)"
    )]
    PcrMismatch {
        /// The dedicated PCR.
        pcr: u8,
        /// What the log predicts.
        expected: Sha256Digest,
        /// What the TPM holds.
        actual: Sha256Digest,
    },
    /// The stored log itself is inconsistent.
    #[error("stored log is inconsistent: {0}")]
    Log(#[from] LogError),
}

/// Decides from the stored entries, the boot binding they start with, and the TPM's state.
pub fn decide(
    pcr: u8,
    entries: Vec<LogEntry>,
    binding: Option<&BootBinding>,
    value: Sha256Digest,
    reset_count: u32,
) -> Result<Decision, RecoveryError> {
    let same_boot = !entries.is_empty()
        && binding.is_some_and(|b| b.tpm_reset_count == reset_count && b.pcr == pcr);
    if !same_boot {
        if value != Sha256Digest::ZERO {
            return Err(RecoveryError::PcrNotFresh { pcr, value });
        }
        return Ok(Decision::StartNew {
            archive_old: !entries.is_empty(),
        });
    }
    let mut log = EventLog::from_entries(entries)?;
    if log.pcr() == value {
        return Ok(Decision::Resume {
            log,
            drop_tail: false,
        });
    }
    let expected = log.pcr();
    log.pop();
    if log.pcr() == value {
        return Ok(Decision::Resume {
            log,
            drop_tail: true,
        });
    }
    Err(RecoveryError::PcrMismatch {
        pcr,
        expected,
        actual: value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_evidence::log::Annotations;

    fn binding(reset: u32) -> BootBinding {
        BootBinding {
            boot_id: "b".into(),
            tpm_reset_count: reset,
            pcr: 15,
            agent_id: "a".into(),
        }
    }

    fn log(n: u64) -> EventLog {
        let mut log = EventLog::new();
        for i in 0..n {
            let e = log
                .next_entry(
                    "nftables",
                    "host",
                    Sha256Digest::of(&i.to_be_bytes()),
                    Annotations::default(),
                )
                .unwrap();
            log.push(e).unwrap();
        }
        log
    }

    #[test]
    fn first_start_needs_a_zero_pcr() {
        assert_eq!(
            decide(15, vec![], None, Sha256Digest::ZERO, 1),
            Ok(Decision::StartNew { archive_old: false })
        );
        let dirty = Sha256Digest::of(b"systemd");
        assert_eq!(
            decide(15, vec![], None, dirty, 1),
            Err(RecoveryError::PcrNotFresh {
                pcr: 15,
                value: dirty
            })
        );
    }

    #[test]
    fn restart_in_the_same_boot_resumes() {
        let l = log(3);
        let d = decide(15, l.entries().to_vec(), Some(&binding(4)), l.pcr(), 4).unwrap();
        assert_eq!(
            d,
            Decision::Resume {
                log: l,
                drop_tail: false
            }
        );
    }

    #[test]
    fn entry_written_but_not_extended_is_dropped() {
        let l = log(3);
        let before = EventLog::from_entries(l.entries()[..2].to_vec()).unwrap();
        let d = decide(15, l.entries().to_vec(), Some(&binding(4)), before.pcr(), 4).unwrap();
        assert_eq!(
            d,
            Decision::Resume {
                log: before,
                drop_tail: true
            }
        );
    }

    #[test]
    fn pcr_extended_behind_our_back_refuses_to_start() {
        let l = log(3);
        let tampered = l.pcr().extend(&Sha256Digest::of(b"x"));
        assert!(matches!(
            decide(15, l.entries().to_vec(), Some(&binding(4)), tampered, 4),
            Err(RecoveryError::PcrMismatch { .. })
        ));
    }

    #[test]
    fn new_boot_starts_a_new_log_and_archives_the_old() {
        let l = log(3);
        assert_eq!(
            decide(
                15,
                l.entries().to_vec(),
                Some(&binding(4)),
                Sha256Digest::ZERO,
                5
            ),
            Ok(Decision::StartNew { archive_old: true })
        );
        // A new boot whose PCR is not fresh is refused too.
        assert!(decide(15, l.entries().to_vec(), Some(&binding(4)), l.pcr(), 5).is_err());
    }
}
