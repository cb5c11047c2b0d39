//! Minimal reader of BTF (BPF Type Format): struct member offsets of the running kernel.
//!
//! palisade's eBPF programs are built without CO-RE, so the loader reads the byte offsets of the
//! few kernel struct members they walk (`task_struct → nsproxy → net → ns.inum`) from the running
//! kernel's BTF and hands them to the programs as global variables. This module parses a BTF blob
//! (native little-endian, base BTF only: no split/module BTF) into an index of its types and
//! answers [`Btf::member_offset`]. The input is untrusted bytes: parsing never panics, every loop
//! is bounded by the input, nesting is capped at [`MAX_DEPTH`], and memory is proportional to the
//! input (a copy of the type and string sections plus one `u32` per type).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where the running kernel exposes its own BTF.
pub const VMLINUX_PATH: &str = "/sys/kernel/btf/vmlinux";
/// How deep anonymous struct/union nesting and typedef/modifier chains may go.
pub const MAX_DEPTH: usize = 32;

const MAGIC: u16 = 0xeb9f;
const VERSION: u8 = 1;
const HEADER_LEN: usize = 24;
const TYPE_LEN: usize = 12;

// BTF_KIND_* from the Linux uapi `linux/btf.h`.
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

/// Why a BTF blob could not be read or a member offset not found.
#[derive(Debug, thiserror::Error)]
pub enum BtfError {
    /// The blob ends, or a section or type record runs past its end, while reading `what`.
    #[error("BTF truncated: {what} at byte offset {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// A byte offset in the blob (header, sections) or in the type section (records).
        offset: usize,
    },
    /// The magic is 0xeB9F in big-endian order: BTF of a big-endian machine is not supported.
    #[error("BTF is big-endian; only native little-endian BTF is supported")]
    BigEndian,
    /// The blob does not start with the BTF magic 0xeB9F.
    #[error("not BTF: bad magic {0:#06x} (expected 0xeb9f)")]
    BadMagic(u16),
    /// A BTF version other than 1.
    #[error("unsupported BTF version {0} (expected 1)")]
    UnsupportedVersion(u8),
    /// A header length shorter than the 24-byte `struct btf_header`.
    #[error("BTF header length {0} is shorter than 24 bytes")]
    BadHeaderLength(u32),
    /// A type record with a `BTF_KIND_*` this reader does not know (or 0, UNKN).
    #[error("unknown BTF kind {0}")]
    UnknownKind(u32),
    /// A type id that refers past the last type.
    #[error("BTF type id {0} does not exist")]
    NoSuchType(u32),
    /// No STRUCT or UNION with this name.
    #[error("no struct or union named {0:?} in BTF")]
    NoSuchStruct(String),
    /// No member with this name (also not in anonymous members) in `structure`.
    #[error("{structure} has no member {member:?}")]
    NoSuchMember {
        /// The dotted path of the struct that was searched, e.g. `net.ns`.
        structure: String,
        /// The member that was looked for.
        member: String,
    },
    /// The member is a bitfield, which has no byte offset.
    #[error("{structure}.{member} is a bitfield")]
    Bitfield {
        /// The dotted path of the containing struct.
        structure: String,
        /// The member.
        member: String,
    },
    /// The member does not start on a byte boundary.
    #[error("{structure}.{member} is at bit offset {bit_offset}, not on a byte boundary")]
    NotByteAligned {
        /// The dotted path of the containing struct.
        structure: String,
        /// The member.
        member: String,
        /// Its bit offset from the start of the outermost struct.
        bit_offset: u64,
    },
    /// The path continues through a pointer member; look the pointee up separately.
    #[error("{structure}.{member} is a pointer; the path cannot continue through it")]
    ThroughPointer {
        /// The dotted path of the containing struct.
        structure: String,
        /// The pointer member.
        member: String,
    },
    /// The path continues through a member that is not a struct or union.
    #[error("{structure}.{member} is of kind {kind}, not a struct or union")]
    NotAStruct {
        /// The dotted path of the containing struct.
        structure: String,
        /// The member.
        member: String,
        /// The kind of its (resolved) type, e.g. `INT`.
        kind: &'static str,
    },
    /// Anonymous nesting or a typedef/modifier chain deeper than [`MAX_DEPTH`] (or a cycle).
    #[error("BTF {what} nests deeper than {MAX_DEPTH}")]
    TooDeep {
        /// What nests: `"type chain"` or `"anonymous members"`.
        what: &'static str,
    },
    /// The byte offset does not fit in a `u32`.
    #[error("member offset overflows u32")]
    OffsetOverflow,
    /// Reading the BTF file failed.
    #[error("cannot read BTF from {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A parsed BTF blob: its type and string sections and where each type record starts.
#[derive(Debug, Clone)]
pub struct Btf {
    types: Vec<u8>,
    strings: Vec<u8>,
    /// Start of type id `i + 1` in `types` (id 0 is void and has no record).
    offsets: Vec<u32>,
}

/// One `struct btf_type` record, decoded; the default (kind 0) stands for void, type id 0.
#[derive(Debug, Clone, Copy, Default)]
struct TypeRec {
    name_off: u32,
    kind: u32,
    vlen: u32,
    kind_flag: bool,
    size_or_type: u32,
    /// Where the kind-specific trailing data starts in the type section.
    trailing: usize,
}

/// A member found by [`Btf::find_member`]: its bit offset from the searched struct and its type.
#[derive(Debug, Clone, Copy)]
struct Found {
    bit_offset: u64,
    type_id: u32,
    bitfield: bool,
}

fn read_u32(buf: &[u8], offset: usize, what: &'static str) -> Result<u32, BtfError> {
    let bytes = offset.checked_add(4).and_then(|end| buf.get(offset..end));
    let bytes = bytes.and_then(|b| b.try_into().ok());
    bytes
        .map(u32::from_le_bytes)
        .ok_or(BtfError::Truncated { what, offset })
}

/// The `len` bytes at `off` after the header, if they lie inside `data`.
fn section(data: &[u8], hdr_len: u32, off: u32, len: u32) -> Option<&[u8]> {
    let start = (hdr_len as usize).checked_add(off as usize)?;
    data.get(start..start.checked_add(len as usize)?)
}

/// Bytes of kind-specific data after the 12-byte record.
fn trailing_len(kind: u32, vlen: u32) -> Result<u32, BtfError> {
    Ok(match kind {
        KIND_INT | KIND_VAR | KIND_DECL_TAG => 4,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
        KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
        KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
        | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
        other => return Err(BtfError::UnknownKind(other)),
    })
}

/// The kind's name as bpftool prints it.
fn kind_name(kind: u32) -> &'static str {
    const NAMES: &str = "VOID INT PTR ARRAY STRUCT UNION ENUM FWD TYPEDEF VOLATILE CONST RESTRICT \
                         FUNC FUNC_PROTO VAR DATASEC FLOAT DECL_TAG TYPE_TAG ENUM64";
    NAMES
        .split_whitespace()
        .nth(kind as usize)
        .unwrap_or("unknown kind")
}

impl Btf {
    /// Parses a BTF blob (native little-endian, as in `/sys/kernel/btf/vmlinux`).
    ///
    /// Checks the header, that both sections lie inside `data`, and that the type section is a
    /// whole sequence of records of known kinds. Names and type references are checked lazily,
    /// by [`Btf::member_offset`].
    pub fn parse(data: &[u8]) -> Result<Btf, BtfError> {
        let truncated = |what| BtfError::Truncated {
            what,
            offset: data.len(),
        };
        let magic = data.get(0..2).and_then(|b| b.try_into().ok());
        let magic = magic.map(u16::from_le_bytes).ok_or(truncated("header"))?;
        if magic == MAGIC.swap_bytes() {
            return Err(BtfError::BigEndian);
        }
        if magic != MAGIC {
            return Err(BtfError::BadMagic(magic));
        }
        let version = *data.get(2).ok_or(truncated("header"))?;
        if version != VERSION {
            return Err(BtfError::UnsupportedVersion(version));
        }
        let hdr_len = read_u32(data, 4, "header")?;
        let type_off = read_u32(data, 8, "header")?;
        let type_len = read_u32(data, 12, "header")?;
        let str_off = read_u32(data, 16, "header")?;
        let str_len = read_u32(data, 20, "header")?;
        if (hdr_len as usize) < HEADER_LEN {
            return Err(BtfError::BadHeaderLength(hdr_len));
        }
        let types = section(data, hdr_len, type_off, type_len).ok_or(truncated("type section"))?;
        let strings =
            section(data, hdr_len, str_off, str_len).ok_or(truncated("string section"))?;

        let mut btf = Btf {
            types: types.to_vec(),
            strings: strings.to_vec(),
            offsets: Vec::new(),
        };
        let mut offset = 0usize;
        // Each iteration advances by at least 12 bytes, so this ends within `type_len / 12` steps.
        while offset < btf.types.len() {
            let rec = btf.record_at(offset)?;
            let next = u64::from(trailing_len(rec.kind, rec.vlen)?) + rec.trailing as u64;
            if next > btf.types.len() as u64 {
                return Err(BtfError::Truncated {
                    what: "type record data",
                    offset,
                });
            }
            btf.offsets
                .push(u32::try_from(offset).map_err(|_| BtfError::OffsetOverflow)?);
            // `next` is at most the section length, a `usize`.
            offset = next as usize;
        }
        Ok(btf)
    }

    /// Reads and parses the running kernel's BTF, [`VMLINUX_PATH`].
    pub fn from_sys_fs() -> Result<Btf, BtfError> {
        Self::from_file(Path::new(VMLINUX_PATH))
    }

    /// Reads and parses a BTF file (e.g. a copy of `/sys/kernel/btf/vmlinux`).
    pub fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let data = std::fs::read(path).map_err(|source| BtfError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&data)
    }

    /// The number of types (the largest type id; id 0 is void).
    pub fn type_count(&self) -> usize {
        self.offsets.len()
    }

    /// The byte offset of `struct_name.path[0].path[1]…` from the start of the struct.
    ///
    /// Takes the first STRUCT or UNION named `struct_name` (FWD declarations are skipped). Each
    /// path element is a member name; members of anonymous structs/unions are found
    /// transparently (their offsets add up), and typedefs and modifiers are resolved before
    /// descending to the next element. Fails if the struct or a member is missing, a member is a
    /// bitfield or not byte-aligned, or the path continues through a pointer or a non-struct
    /// (pointers need a separate lookup of the pointee). An empty path gives 0.
    pub fn member_offset(&self, struct_name: &str, path: &[&str]) -> Result<u32, BtfError> {
        let mut type_id = self.find_struct(struct_name)?;
        let mut structure = struct_name.to_owned();
        let mut bits = 0u64;
        for (i, &name) in path.iter().enumerate() {
            let member = name.to_owned();
            let Some(found) = self.find_member(type_id, name, 0, &mut HashSet::new())? else {
                return Err(BtfError::NoSuchMember { structure, member });
            };
            let (ty, rec) = self.resolve(found.type_id)?;
            if found.bitfield || (rec.kind == KIND_INT && self.int_is_bitfield(&rec)?) {
                return Err(BtfError::Bitfield { structure, member });
            }
            bits = bits
                .checked_add(found.bit_offset)
                .ok_or(BtfError::OffsetOverflow)?;
            if !bits.is_multiple_of(8) {
                return Err(BtfError::NotByteAligned {
                    structure,
                    member,
                    bit_offset: bits,
                });
            }
            if i + 1 == path.len() {
                break;
            }
            match rec.kind {
                KIND_STRUCT | KIND_UNION => {}
                KIND_PTR => return Err(BtfError::ThroughPointer { structure, member }),
                kind => {
                    let kind = kind_name(kind);
                    return Err(BtfError::NotAStruct {
                        structure,
                        member,
                        kind,
                    });
                }
            }
            type_id = ty;
            structure = format!("{structure}.{name}");
        }
        u32::try_from(bits / 8).map_err(|_| BtfError::OffsetOverflow)
    }

    /// The id of the first STRUCT or UNION named `name`.
    fn find_struct(&self, name: &str) -> Result<u32, BtfError> {
        for (index, &offset) in self.offsets.iter().enumerate() {
            let rec = self.record_at(offset as usize)?;
            if matches!(rec.kind, KIND_STRUCT | KIND_UNION)
                && self.name_is(rec.name_off, name.as_bytes())
            {
                // Ids are 1-based; there are fewer types than bytes in a u32-sized section.
                return u32::try_from(index + 1).map_err(|_| BtfError::NoSuchType(u32::MAX));
            }
        }
        Err(BtfError::NoSuchStruct(name.to_owned()))
    }

    /// Searches struct/union `id` for `name`, descending into anonymous struct/union members.
    /// `visited` holds the anonymous types already searched in this lookup: searching one twice
    /// cannot find anything new, and skipping it keeps the work linear in the number of members.
    fn find_member(
        &self,
        id: u32,
        name: &str,
        depth: usize,
        visited: &mut HashSet<u32>,
    ) -> Result<Option<Found>, BtfError> {
        if name.is_empty() {
            return Ok(None); // would match the first anonymous member
        }
        if depth > MAX_DEPTH {
            return Err(BtfError::TooDeep {
                what: "anonymous members",
            });
        }
        let rec = self.record(id)?;
        for i in 0..rec.vlen as usize {
            let at = rec.trailing + i * 12;
            let name_off = read_u32(&self.types, at, "struct member")?;
            let member_type = read_u32(&self.types, at + 4, "struct member")?;
            let raw = read_u32(&self.types, at + 8, "struct member")?;
            let (bit_offset, bitfield) = if rec.kind_flag {
                (raw & 0x00ff_ffff, raw >> 24 != 0)
            } else {
                (raw, false)
            };
            if self.name_is(name_off, name.as_bytes()) {
                return Ok(Some(Found {
                    bit_offset: bit_offset.into(),
                    type_id: member_type,
                    bitfield,
                }));
            }
            if !self.name_is(name_off, b"") {
                continue;
            }
            let (inner, inner_rec) = self.resolve(member_type)?;
            if !matches!(inner_rec.kind, KIND_STRUCT | KIND_UNION) || !visited.insert(inner) {
                continue;
            }
            if let Some(found) = self.find_member(inner, name, depth + 1, visited)? {
                let total = found
                    .bit_offset
                    .checked_add(bit_offset.into())
                    .ok_or(BtfError::OffsetOverflow)?;
                return Ok(Some(Found {
                    bit_offset: total,
                    ..found
                }));
            }
        }
        Ok(None)
    }

    /// Follows TYPEDEF/CONST/VOLATILE/RESTRICT/TYPE_TAG to the underlying type (kind 0: void).
    fn resolve(&self, mut id: u32) -> Result<(u32, TypeRec), BtfError> {
        for _ in 0..=MAX_DEPTH {
            if id == 0 {
                return Ok((0, TypeRec::default()));
            }
            let rec = self.record(id)?;
            match rec.kind {
                KIND_TYPEDEF | KIND_CONST | KIND_VOLATILE | KIND_RESTRICT | KIND_TYPE_TAG => {
                    id = rec.size_or_type
                }
                _ => return Ok((id, rec)),
            }
        }
        Err(BtfError::TooDeep { what: "type chain" })
    }

    /// Whether an INT describes a bitfield (pre-kind_flag encoding: fewer bits than its size, or
    /// a bit offset).
    fn int_is_bitfield(&self, rec: &TypeRec) -> Result<bool, BtfError> {
        let encoding = read_u32(&self.types, rec.trailing, "int encoding")?;
        let bits = u64::from(encoding & 0xff);
        let int_offset = (encoding >> 16) & 0xff;
        Ok(int_offset != 0 || bits != u64::from(rec.size_or_type) * 8)
    }

    /// The record of type `id` (1-based).
    fn record(&self, id: u32) -> Result<TypeRec, BtfError> {
        let offset = (id as usize)
            .checked_sub(1)
            .and_then(|index| self.offsets.get(index))
            .ok_or(BtfError::NoSuchType(id))?;
        self.record_at(*offset as usize)
    }

    fn record_at(&self, offset: usize) -> Result<TypeRec, BtfError> {
        let info = read_u32(&self.types, offset + 4, "type record")?;
        Ok(TypeRec {
            name_off: read_u32(&self.types, offset, "type record")?,
            kind: (info >> 24) & 0x1f,
            vlen: info & 0xffff,
            kind_flag: info >> 31 != 0,
            size_or_type: read_u32(&self.types, offset + 8, "type record")?,
            trailing: offset + TYPE_LEN,
        })
    }

    /// Whether the NUL-terminated name at `offset` in the string section is `name` (offset 0 is
    /// the empty name, of anonymous members). Costs O(`name.len()`), whatever the section holds;
    /// an offset outside the section names nothing.
    fn name_is(&self, offset: u32, name: &[u8]) -> bool {
        if offset == 0 {
            return name.is_empty();
        }
        let at = offset as usize;
        let end = at.saturating_add(name.len());
        self.strings.get(at..end) == Some(name) && self.strings.get(end) == Some(&0)
    }
}

#[cfg(test)]
mod tests;
