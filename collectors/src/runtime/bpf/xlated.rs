//! The digest of a program's translated instructions (what the kernel runs, after the
//! verifier's rewrites), made independent of the load: the immediates that hold map ids or
//! kernel addresses are zeroed before hashing.
//!
//! Map references (`ld_imm64` with a map pseudo source register) carry the map's id, which is
//! new at every load; BTF-id and function pseudo loads, and plain 64-bit constants that are
//! kernel addresses, carry addresses that KASLR moves. Helper-call immediates are offsets inside
//! the kernel image and stay: the digest is stable across loads and boots of one kernel build,
//! and changes with the kernel build (the program *tag*, computed by the kernel over the
//! instructions as loaded, is the portable identity).

use sha2::{Digest as _, Sha256};

/// `BPF_LD | BPF_IMM | BPF_DW`: the first half of a 16-byte instruction.
const LD_IMM64: u8 = 0x18;
/// Pseudo source registers of `ld_imm64` that hold a map id.
const MAP_ID_ONLY: [u8; 2] = [1, 5];
/// … that hold a map id and an offset into its value (the offset stays).
const MAP_ID_AND_OFFSET: [u8; 2] = [2, 6];
/// … that hold an address (BTF id of a kernel variable, subprogram address).
const ADDRESS: [u8; 2] = [3, 4];
/// Plain constants at or above this are kernel addresses (x86-64 and arm64 kernel halves).
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// Instructions with load-specific immediates zeroed (a trailing partial instruction is
/// kept as is).
pub(crate) fn normalize(xlated: &[u8]) -> Vec<u8> {
    let mut out = xlated.to_vec();
    let mut i = 0;
    while let Some(insn) = out.get(i..i + 16) {
        let (code, src) = (insn.first().copied(), insn.get(1).map(|r| r >> 4));
        if code != Some(LD_IMM64) {
            i += 8;
            continue;
        }
        let src = src.unwrap_or(0);
        let lo = word(insn, 4);
        let hi = word(insn, 12);
        let value = (u64::from(hi) << 32) | u64::from(lo);
        let (zero_lo, zero_hi) = if MAP_ID_ONLY.contains(&src) {
            (true, true)
        } else if MAP_ID_AND_OFFSET.contains(&src) {
            (true, false)
        } else if ADDRESS.contains(&src) || (src == 0 && value >= KERNEL_HALF) {
            (true, true)
        } else {
            (false, false)
        };
        for (zero, at) in [(zero_lo, i + 4), (zero_hi, i + 12)] {
            if zero {
                if let Some(imm) = out.get_mut(at..at + 4) {
                    imm.fill(0);
                }
            }
        }
        i += 16;
    }
    out
}

fn word(insn: &[u8], at: usize) -> u32 {
    insn.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// SHA-256 of the normalised instructions, hex.
pub(crate) fn digest(xlated: &[u8]) -> String {
    hex::encode(Sha256::digest(normalize(xlated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn insn(code: u8, src: u8, imm: u32) -> Vec<u8> {
        let mut v = vec![code, src << 4, 0, 0];
        v.extend_from_slice(&imm.to_le_bytes());
        v
    }

    fn ld_imm64(src: u8, value: u64) -> Vec<u8> {
        let mut v = insn(LD_IMM64, src, value as u32);
        v.extend(insn(0, 0, (value >> 32) as u32));
        v
    }

    #[test]
    fn map_ids_and_addresses_do_not_change_the_digest() {
        let prog = |map_id: u64, addr: u64| {
            let mut p = insn(0xb7, 0, 7); // r0 = 7
            p.extend(ld_imm64(1, map_id)); // r1 = map (by id)
            p.extend(ld_imm64(2, map_id | (16 << 32))); // r1 = &map value + 16
            p.extend(ld_imm64(3, addr)); // ksym address
            p.extend(ld_imm64(0, addr)); // a kernel address as a constant
            p.extend(insn(0x85, 0, 12345)); // call helper
            p.extend(insn(0x95, 0, 0)); // exit
            p
        };
        let a = prog(17, 0xffff_ffff_8100_0000);
        let b = prog(4242, 0xffff_ffff_a300_0000);
        assert_ne!(a, b);
        assert_eq!(digest(&a), digest(&b));
        // The value offset and the helper stay.
        let n = normalize(&a);
        assert_eq!(word(&n, 8 + 16 + 12), 16);
        assert_eq!(word(&n, 8 + 64 + 4), 12345);
    }

    #[test]
    fn constants_and_code_do_change_the_digest() {
        let a = ld_imm64(0, 0x1234_5678_9abc);
        let b = ld_imm64(0, 0x1234_5678_9abd);
        assert_ne!(digest(&a), digest(&b));
        assert_ne!(digest(&insn(0xb7, 0, 1)), digest(&insn(0xb7, 0, 2)));
        // Truncated input is hashed, not rejected.
        assert_eq!(
            normalize(&[LD_IMM64, 0x10, 0, 0]),
            vec![LD_IMM64, 0x10, 0, 0]
        );
    }
}
