//! Tests of the BTF reader: hand-built blobs (a tiny builder), hostile bytes, and the real
//! `/sys/kernel/btf/vmlinux` of the machine running the tests (cross-checked with bpftool).

use super::*;

/// Builds little BTF blobs; type ids are handed out from 1 in the order types are added.
struct Builder {
    types: Vec<u8>,
    strings: Vec<u8>,
    count: u32,
}

impl Builder {
    fn new() -> Self {
        Builder {
            types: Vec::new(),
            strings: vec![0],
            count: 0,
        }
    }

    fn str(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        let at = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        at
    }

    /// The id the next added type gets.
    fn next_id(&self) -> u32 {
        self.count + 1
    }

    fn raw(
        &mut self,
        name: &str,
        kind: u32,
        kflag: bool,
        vlen: u32,
        size_or_type: u32,
        tail: &[u32],
    ) -> u32 {
        let name_off = self.str(name);
        let info = (u32::from(kflag) << 31) | (kind << 24) | vlen;
        for word in [name_off, info, size_or_type].iter().chain(tail) {
            self.types.extend_from_slice(&word.to_le_bytes());
        }
        self.count += 1;
        self.count
    }

    fn int(&mut self, name: &str, size: u32) -> u32 {
        self.int_bits(name, size, size * 8)
    }

    fn int_bits(&mut self, name: &str, size: u32, bits: u32) -> u32 {
        self.raw(name, KIND_INT, false, 0, size, &[bits])
    }

    fn unary(&mut self, kind: u32, name: &str, target: u32) -> u32 {
        self.raw(name, kind, false, 0, target, &[])
    }

    /// A STRUCT or UNION; members are `(name, type, offset word)`.
    fn composite(
        &mut self,
        kind: u32,
        name: &str,
        kflag: bool,
        size: u32,
        members: &[(&str, u32, u32)],
    ) -> u32 {
        let mut tail = Vec::new();
        for &(member, ty, offset) in members {
            tail.extend([self.str(member), ty, offset]);
        }
        self.raw(name, kind, kflag, members.len() as u32, size, &tail)
    }

    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.composite(KIND_STRUCT, name, false, size, members)
    }

    fn build(&self) -> Vec<u8> {
        let mut blob = vec![0x9f, 0xeb, 1, 0];
        let (type_len, str_len) = (self.types.len() as u32, self.strings.len() as u32);
        for word in [24, 0, type_len, type_len, str_len] {
            blob.extend_from_slice(&u32::to_le_bytes(word));
        }
        blob.extend_from_slice(&self.types);
        blob.extend_from_slice(&self.strings);
        blob
    }
}

/// `struct task { int pid; union { int x; struct { int y; int z; }; }; int after; }` and
/// `struct outer { long pad[4]; struct task t; }`.
fn anonymous_blob() -> Vec<u8> {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let inner = b.strukt("", 8, &[("y", int, 0), ("z", int, 32)]);
    let union = b.composite(KIND_UNION, "", false, 8, &[("x", int, 0), ("", inner, 0)]);
    let task = b.strukt(
        "task",
        24,
        &[("pid", int, 0), ("", union, 64), ("after", int, 128)],
    );
    b.strukt("outer", 56, &[("pad", int, 0), ("t", task, 256)]);
    b.build()
}

fn parse(blob: &[u8]) -> Btf {
    Btf::parse(blob).unwrap()
}

/// The name of the `BtfError` variant that `member_offset` fails with.
fn fails(btf: &Btf, structure: &str, path: &[&str]) -> String {
    let err = btf.member_offset(structure, path).unwrap_err();
    let debug = format!("{err:?}");
    debug.split([' ', '(']).next().unwrap().to_owned()
}

#[test]
fn plain_members_have_their_byte_offsets() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let long = b.int("long", 8);
    b.strukt("s", 24, &[("a", int, 0), ("b", long, 64), ("c", int, 128)]);
    let btf = parse(&b.build());
    assert_eq!(btf.type_count(), 3);
    assert_eq!(btf.member_offset("s", &["a"]).unwrap(), 0);
    assert_eq!(btf.member_offset("s", &["b"]).unwrap(), 8);
    assert_eq!(btf.member_offset("s", &["c"]).unwrap(), 16);
    assert_eq!(btf.member_offset("s", &[]).unwrap(), 0);
    assert_eq!(fails(&btf, "s", &["d"]), "NoSuchMember");
    assert_eq!(fails(&btf, "s", &[""]), "NoSuchMember");
    assert!(matches!(btf.member_offset("t", &["a"]), Err(BtfError::NoSuchStruct(n)) if n == "t"));
    // Type names are not struct names, and a prefix of a name is not the name.
    assert_eq!(fails(&btf, "int", &[]), "NoSuchStruct");
    assert_eq!(fails(&btf, "", &[]), "NoSuchStruct");
}

#[test]
fn members_of_anonymous_unions_and_structs_are_found_and_offsets_add_up() {
    let btf = parse(&anonymous_blob());
    assert_eq!(btf.member_offset("task", &["pid"]).unwrap(), 0);
    assert_eq!(btf.member_offset("task", &["x"]).unwrap(), 8);
    assert_eq!(btf.member_offset("task", &["y"]).unwrap(), 8);
    assert_eq!(btf.member_offset("task", &["z"]).unwrap(), 12);
    assert_eq!(btf.member_offset("task", &["after"]).unwrap(), 16);
    assert_eq!(btf.member_offset("outer", &["t", "z"]).unwrap(), 44);
    let err = btf.member_offset("outer", &["t", "w"]).unwrap_err();
    assert!(
        matches!(&err, BtfError::NoSuchMember { structure, member } if structure == "outer.t" && member == "w")
    );
}

#[test]
fn typedefs_and_modifiers_are_resolved_before_descending() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    // `net` comes before the types it uses, as in the kernel's BTF.
    let ns_t = b.next_id() + 4; // after net, ns_common, volatile and const
    b.strukt("net", 32, &[("a", int, 0), ("ns", ns_t, 128)]);
    let ns_common = b.strukt("ns_common", 16, &[("stashed", int, 0), ("inum", int, 64)]);
    let volatile = b.unary(KIND_VOLATILE, "", ns_common);
    let konst = b.unary(KIND_CONST, "", volatile);
    assert_eq!(b.unary(KIND_TYPEDEF, "ns_t", konst), ns_t);
    let btf = parse(&b.build());
    assert_eq!(btf.member_offset("net", &["ns", "inum"]).unwrap(), 24);
    assert_eq!(btf.member_offset("net", &["ns"]).unwrap(), 16);
}

#[test]
fn kind_flag_bitfields_are_refused_and_plain_members_keep_their_bit_offset() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    let members = [
        ("a", int, 3 << 24),       // 3-bit bitfield at bit 0
        ("b", int, (5 << 24) | 3), // 5-bit bitfield at bit 3
        ("c", int, 32),            // plain int at bit 32
        ("d", int, 68),            // plain int at bit 68: not byte-aligned
        ("e", int, 0x00ff_fff8),   // the largest bit offset the encoding allows
    ];
    b.composite(KIND_STRUCT, "flags", true, 0x0020_0000, &members);
    // The same offset words without kind_flag are plain bit offsets.
    b.strukt("plain", 0x0100_0000, &[("a", int, 3 << 24)]);
    let bits3 = b.int_bits("u3", 4, 3);
    b.strukt("old", 4, &[("f", bits3, 0)]);
    let btf = parse(&b.build());
    assert_eq!(fails(&btf, "flags", &["a"]), "Bitfield");
    assert_eq!(fails(&btf, "flags", &["b"]), "Bitfield");
    assert_eq!(btf.member_offset("flags", &["c"]).unwrap(), 4);
    assert!(matches!(
        btf.member_offset("flags", &["d"]),
        Err(BtfError::NotByteAligned { bit_offset: 68, .. })
    ));
    assert_eq!(btf.member_offset("flags", &["e"]).unwrap(), 0x001f_ffff);
    assert_eq!(btf.member_offset("plain", &["a"]).unwrap(), (3 << 24) / 8);
    // Without kind_flag, a bitfield is an INT narrower than its size.
    assert_eq!(fails(&btf, "old", &["f"]), "Bitfield");
}

#[test]
fn paths_through_pointers_and_scalars_are_refused() {
    let mut b = Builder::new();
    let int = b.int("int", 4);
    b.raw("nsproxy", KIND_FWD, false, 0, 0, &[]);
    let nsproxy = b.strukt("nsproxy", 16, &[("count", int, 0), ("net_ns", int, 64)]);
    let ptr = b.unary(KIND_PTR, "", nsproxy);
    b.strukt("task", 16, &[("pid", int, 0), ("nsproxy", ptr, 64)]);
    let btf = parse(&b.build());
    // The FWD comes first; the struct is found all the same.
    assert_eq!(btf.member_offset("nsproxy", &["net_ns"]).unwrap(), 8);
    assert_eq!(btf.member_offset("task", &["nsproxy"]).unwrap(), 8);
    assert_eq!(
        fails(&btf, "task", &["nsproxy", "net_ns"]),
        "ThroughPointer"
    );
    assert!(matches!(
        btf.member_offset("task", &["pid", "x"]),
        Err(BtfError::NotAStruct { kind: "INT", .. })
    ));
}

#[test]
fn cycles_and_deep_nesting_end_in_errors() {
    let mut b = Builder::new();
    // Typedefs 1 → 2 → 1.
    b.unary(KIND_TYPEDEF, "a", 2);
    b.unary(KIND_TYPEDEF, "b", 1);
    b.strukt("loop", 4, &[("x", 1, 0)]);
    // An anonymous member of the struct's own type, twice.
    let own = b.next_id();
    b.strukt("selfish", 4, &[("", own, 0), ("", own, 0)]);
    // 40 nested anonymous structs, the innermost holding `deep`.
    let int = b.int("int", 4);
    let mut inner = b.strukt("", 4, &[("deep", int, 0)]);
    for _ in 0..40 {
        inner = b.strukt("", 4, &[("", inner, 0)]);
    }
    b.strukt("deep", 4, &[("", inner, 0)]);
    b.strukt("dangling", 4, &[("", 9999, 0), ("y", 9999, 0)]);
    let btf = parse(&b.build());
    assert_eq!(fails(&btf, "loop", &["x", "y"]), "TooDeep");
    assert_eq!(fails(&btf, "selfish", &["x"]), "NoSuchMember");
    assert_eq!(fails(&btf, "deep", &["deep"]), "TooDeep");
    assert!(matches!(
        btf.member_offset("dangling", &["x"]),
        Err(BtfError::NoSuchType(9999))
    ));
}

#[test]
fn truncated_blobs_error_at_every_length() {
    let blob = anonymous_blob();
    for len in 0..blob.len() {
        assert!(
            Btf::parse(&blob[..len]).is_err(),
            "accepted {len} of {} bytes",
            blob.len()
        );
    }
    // A type section cut anywhere but at a record boundary.
    let type_len = u32::from_le_bytes(blob[12..16].try_into().unwrap());
    let boundaries = [0, 16, 16 + 36, 16 + 36 + 36, 16 + 36 + 36 + 48, type_len];
    for cut in 0..=type_len {
        let mut short = blob.clone();
        short[12..16].copy_from_slice(&cut.to_le_bytes());
        let result = Btf::parse(&short);
        assert_eq!(
            result.is_ok(),
            boundaries.contains(&cut),
            "type_len {cut}: {result:?}"
        );
    }
}

#[test]
fn bad_headers_are_refused() {
    let blob = anonymous_blob();
    // The error (Debug) after overwriting `bytes` at `at`.
    let with = |at: usize, bytes: &[u8]| {
        let mut b = blob.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        format!("{:?}", Btf::parse(&b).unwrap_err())
    };
    assert_eq!(with(0, &[0xeb, 0x9f]), "BigEndian");
    assert_eq!(with(0, b"\x7fE"), "BadMagic(17791)");
    assert_eq!(with(2, &[2]), "UnsupportedVersion(2)");
    assert_eq!(with(4, &8u32.to_le_bytes()), "BadHeaderLength(8)");
    assert!(with(4, &u32::MAX.to_le_bytes()).starts_with("Truncated"));
    assert!(with(16, &u32::MAX.to_le_bytes()).starts_with("Truncated"));
    // Kind byte of the first record (bits 24-28 of `info`): 0 (UNKN) and 20 are unknown.
    assert_eq!(with(24 + 7, &[0]), "UnknownKind(0)");
    assert_eq!(with(24 + 7, &[20]), "UnknownKind(20)");
    let missing = Btf::from_file(Path::new("/nonexistent/vmlinux"));
    assert!(matches!(missing, Err(BtfError::Io { .. })));
}

#[test]
fn mutated_blobs_never_panic() {
    let blob = anonymous_blob();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    for _ in 0..20_000 {
        let mut b = blob.clone();
        for _ in 0..4 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % b.len() as u64) as usize;
            b[at] = (state >> 32) as u8;
        }
        if let Ok(btf) = Btf::parse(&b) {
            for (s, path) in [("task", &["z"][..]), ("outer", &["t", "after"]), ("", &[])] {
                let _ = btf.member_offset(s, path);
            }
        }
    }
}

/// The running kernel's BTF, or `None` (with a note) where it is not readable.
fn vmlinux() -> Option<Btf> {
    let data = match std::fs::read(VMLINUX_PATH) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("skipped: cannot read {VMLINUX_PATH}: {e}");
            return None;
        }
    };
    let start = std::time::Instant::now();
    let btf = Btf::parse(&data).unwrap();
    println!(
        "parsed {VMLINUX_PATH}: {} bytes, {} types in {:?}",
        data.len(),
        btf.type_count(),
        start.elapsed()
    );
    Some(btf)
}

#[test]
fn real_vmlinux_has_the_netns_offsets() {
    let Some(btf) = vmlinux() else { return };
    assert!(btf.type_count() > 10_000);
    assert_eq!(Btf::from_sys_fs().unwrap().type_count(), btf.type_count());
    let start = std::time::Instant::now();
    let nsproxy = btf.member_offset("task_struct", &["nsproxy"]).unwrap();
    let net_ns = btf.member_offset("nsproxy", &["net_ns"]).unwrap();
    let inum = btf.member_offset("net", &["ns", "inum"]).unwrap();
    println!(
        "task_struct.nsproxy = {nsproxy}, nsproxy.net_ns = {net_ns}, net.ns.inum = {inum} \
         (looked up in {:?})",
        start.elapsed()
    );
    assert!(
        nsproxy.is_multiple_of(8) && nsproxy < 65_536,
        "task_struct.nsproxy = {nsproxy}"
    );
    assert!(
        net_ns.is_multiple_of(8) && net_ns < 64,
        "nsproxy.net_ns = {net_ns}"
    );
    assert!(
        inum.is_multiple_of(4) && inum < 65_536,
        "net.ns.inum = {inum}"
    );
    assert_eq!(
        fails(&btf, "task_struct", &["nsproxy", "net_ns"]),
        "ThroughPointer"
    );
}

/// `bits_offset` of a direct member in `bpftool btf dump … format raw` output.
fn bpftool_bits(dump: &str, structure: &str, member: &str) -> Option<u64> {
    let header = format!("STRUCT '{structure}' ");
    let mut lines = dump.lines().skip_while(|l| !l.contains(&header)).skip(1);
    let prefix = format!("'{member}' ");
    lines
        .by_ref()
        .take_while(|l| l.starts_with('\t'))
        .find(|l| l.trim_start().starts_with(&prefix))
        .and_then(|l| l.split("bits_offset=").nth(1))
        .and_then(|bits| bits.trim().parse().ok())
}

#[test]
fn real_vmlinux_offsets_match_bpftool() {
    let Some(btf) = vmlinux() else { return };
    let output = std::process::Command::new("bpftool")
        .args(["btf", "dump", "file", VMLINUX_PATH, "format", "raw"])
        .output();
    let dump = match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        Ok(out) => {
            return eprintln!(
                "skipped: bpftool failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        }
        Err(e) => return eprintln!("skipped: cannot run bpftool: {e}"),
    };
    for (structure, member) in [
        ("nsproxy", "net_ns"),
        ("task_struct", "nsproxy"),
        ("ns_common", "inum"),
        ("net", "ns"),
    ] {
        let bits = bpftool_bits(&dump, structure, member).unwrap();
        let ours = btf.member_offset(structure, &[member]).unwrap();
        assert_eq!(u64::from(ours) * 8, bits, "{structure}.{member}");
    }
}
