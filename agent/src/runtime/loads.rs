//! Names the program each `bpf(BPF_PROG_LOAD)` event created. The programs trace the call at
//! entry (an exit tracepoint would tax every syscall on the host), so the event cannot carry
//! the result. The kernel stamps each program with its load time (after verification) and the
//! loader's uid; the program a call created is the earliest one of that uid and program type
//! stamped after the call began — and, when the same thread made another load call later,
//! before that one began (a thread's calls do not overlap).

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use palisade_collectors::runtime::bpf::{self, Load, ProgramRef};
use palisade_ebpf::decode::{self, Clock};
use palisade_ebpf::{kind, Event};
use palisade_evidence::runtime::RuntimeEvent;
use serde_json::json;

/// Waits between looks for a program still being verified (about 100 ms in all, per batch).
const RETRIES: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(5),
    Duration::from_millis(15),
    Duration::from_millis(30),
    Duration::from_millis(50),
];
/// How many resolved program ids are remembered, so that two calls never name one program.
const CLAIMED: usize = 256;

/// One load call, as the event describes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    /// The loader's uid.
    pub uid: u32,
    /// The requested `BPF_PROG_TYPE_*`.
    pub prog_type: u32,
    /// When the call began (`CLOCK_BOOTTIME` ns).
    pub since: u64,
    /// When the same thread's next load call began, if it did: this call had returned by then.
    pub until: Option<u64>,
}

impl Call {
    fn admits(&self, l: &Load) -> bool {
        l.uid == self.uid
            && l.prog_type == self.prog_type
            && l.load_time >= self.since
            && self.until.is_none_or(|u| l.load_time < u)
    }
}

/// For each call (in the order made) the id of the program it created, among `loads` not in
/// `claimed`; ids chosen are added to `claimed`. `found[i]` already set is kept.
pub fn match_calls(
    calls: &[Call],
    loads: &[Load],
    claimed: &mut BTreeSet<u32>,
    found: &mut [Option<u32>],
) {
    for (call, slot) in calls.iter().zip(found.iter_mut()) {
        if slot.is_some() {
            continue;
        }
        let best = loads
            .iter()
            .filter(|l| !claimed.contains(&l.id) && call.admits(l))
            .min_by_key(|l| (l.load_time, l.id));
        if let Some(l) = best {
            claimed.insert(l.id);
            *slot = Some(l.id);
        }
    }
}

/// The load calls among `raw` (with their indexes), each bounded by its thread's next one.
fn calls(raw: &[&Event]) -> Vec<(usize, Call)> {
    let is_load = |e: &&Event| e.kind == kind::BPF_PROG_LOAD;
    raw.iter()
        .enumerate()
        .filter(|(_, e)| is_load(e))
        .map(|(i, e)| {
            let until = raw
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .find(|later| is_load(later) && later.pid == e.pid)
                .map(|later| later.boot_ns);
            let call = Call {
                uid: e.uid,
                prog_type: u32::try_from(e.args[2]).unwrap_or(u32::MAX),
                since: e.boot_ns,
                until,
            };
            (i, call)
        })
        .collect()
}

/// Resolves load events to programs; remembers the last [`CLAIMED`] programs it has named.
#[derive(Debug, Default)]
pub struct LoadResolver {
    named: VecDeque<u32>,
}

impl LoadResolver {
    /// Decodes a drained batch into attributed events (`seq` numbers them), each load event
    /// with the program its call created. May wait up to ~100 ms for a program still being
    /// verified: call it from a dedicated thread.
    pub fn decode(
        &mut self,
        events: &[(Event, Option<String>)],
        clock: &Clock,
        mut seq: impl FnMut() -> u64,
    ) -> Vec<RuntimeEvent> {
        let mut decoded: Vec<(&Event, RuntimeEvent)> = events
            .iter()
            .map(|(raw, exe)| (raw, decode::decode(raw, exe.clone(), clock, seq())))
            .collect();
        self.resolve(&mut decoded);
        decoded.into_iter().map(|(_, e)| e).collect()
    }

    /// Adds to each load event in `batch` (raw event, decoded event; in ring order) the program
    /// its call created, or says that none remains.
    fn resolve(&mut self, batch: &mut [(&Event, RuntimeEvent)]) {
        let raw: Vec<&Event> = batch.iter().map(|(e, _)| *e).collect();
        let calls = calls(&raw);
        if calls.is_empty() {
            return;
        }
        let only: Vec<Call> = calls.iter().map(|(_, c)| *c).collect();
        let mut found = vec![None; only.len()];
        let mut claimed: BTreeSet<u32> = self.named.iter().copied().collect();
        for wait in RETRIES {
            std::thread::sleep(wait);
            let loads = match bpf::loads() {
                Ok(loads) => loads,
                Err(error) => {
                    tracing::debug!(%error, "cannot read BPF programs to resolve loads");
                    break;
                }
            };
            match_calls(&only, &loads, &mut claimed, &mut found);
            // A call its thread has moved on from cannot gain a program any more.
            let waiting = only
                .iter()
                .zip(&found)
                .any(|(c, f)| f.is_none() && c.until.is_none());
            if !waiting {
                break;
            }
        }
        for ((i, _), id) in calls.iter().zip(found) {
            let Some((_, event)) = batch.get_mut(*i) else {
                continue;
            };
            match id.map(|id| (id, bpf::program(id))) {
                Some((id, Ok(Some(program)))) => {
                    self.remember(id);
                    describe(event, id, &program);
                }
                _ => {
                    event.details.insert("program_id".into(), json!(null));
                    event.summary.push_str(
                        ": no such program remains (the load failed, the program was already \
                         unloaded, or it is still being verified)",
                    );
                }
            }
        }
    }

    /// Remembers a named program, forgetting the oldest beyond [`CLAIMED`].
    fn remember(&mut self, id: u32) {
        self.named.push_back(id);
        while self.named.len() > CLAIMED {
            self.named.pop_front();
        }
    }
}

/// Writes the resolved program into the event.
fn describe(event: &mut RuntimeEvent, id: u32, program: &ProgramRef) {
    let d = &mut event.details;
    d.insert("program_id".into(), json!(id));
    d.insert("program_name".into(), json!(program.name));
    d.insert("program_type".into(), json!(program.prog_type));
    d.insert("tag".into(), json!(program.tag));
    d.insert("digest".into(), json!(program.digest));
    let who = event
        .summary
        .split(" loaded ")
        .next()
        .unwrap_or_default()
        .to_owned();
    let name = if program.name.is_empty() {
        "(unnamed)"
    } else {
        &program.name
    };
    event.summary = format!(
        "{who} loaded BPF program {name} ({}, id {id}, tag {})",
        program.prog_type, program.tag
    );
}

#[cfg(test)]
mod tests;
