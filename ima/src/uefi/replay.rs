//! Replaying the log into PCR values per bank, as `tpm2_eventlog` does.
//!
//! Every PCR that any event names gets a value in each bank the event has a digest for (an
//! EV_NO_ACTION event names a PCR without extending it). PCR 0 starts from the StartupLocality
//! (`...03` for locality 3) or, after an H-CRTM event, from `...04`. Banks whose algorithm
//! `HashAlg` does not know cannot be replayed and are left out (see [`EventLog::unreplayable_banks`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{Bank, EventData, EventLog, EventType};
use crate::HashAlg;

/// PCR values: bank → PCR index → value.
pub type Pcrs = BTreeMap<HashAlg, BTreeMap<u32, Vec<u8>>>;

impl EventLog {
    /// The locality PCR 0 started in, from the StartupLocality EV_NO_ACTION event (0 if none);
    /// 4 if the log has an H-CRTM event for PCR 0.
    pub fn pcr0_locality(&self) -> u8 {
        let events = self.events.iter().skip(1);
        if events
            .clone()
            .any(|e| e.event_type == EventType::EV_EFI_HCRTM_EVENT && e.pcr == 0)
        {
            return 4;
        }
        events
            .filter(|e| e.event_type == EventType::EV_NO_ACTION && e.pcr == 0)
            .find_map(|e| match e.decoded {
                EventData::StartupLocality { locality } => Some(locality),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// Banks the log declares or uses that cannot be replayed (algorithm unknown to `HashAlg`).
    pub fn unreplayable_banks(&self) -> Vec<u16> {
        let declared = self.spec_id.algorithms.iter().map(|a| a.algorithm);
        let used = self
            .events
            .iter()
            .flat_map(|e| e.digests.iter().map(|d| d.algorithm));
        let unknown: BTreeSet<u16> = declared
            .chain(used)
            .filter_map(|b| match b {
                Bank::Unknown(id) => Some(id),
                Bank::Known(_) => None,
            })
            .collect();
        unknown.into_iter().collect()
    }

    /// Replays every event (the Spec ID event excluded; EV_NO_ACTION events are not extended).
    pub fn replay(&self) -> Pcrs {
        let locality = self.pcr0_locality();
        let mut pcrs = Pcrs::new();
        for event in self.events.iter().skip(1) {
            for digest in &event.digests {
                let Bank::Known(alg) = digest.algorithm else {
                    continue;
                };
                let pcr = pcrs
                    .entry(alg)
                    .or_default()
                    .entry(event.pcr)
                    .or_insert_with(|| {
                        let mut zero = alg.zero();
                        if event.pcr == 0 {
                            if let Some(last) = zero.last_mut() {
                                *last = locality;
                            }
                        }
                        zero
                    });
                if event.event_type != EventType::EV_NO_ACTION {
                    alg.extend(pcr, &digest.digest);
                }
            }
        }
        pcrs
    }
}
