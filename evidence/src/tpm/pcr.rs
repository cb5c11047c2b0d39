//! PCR selections (`TPML_PCR_SELECTION`) and the PCR digest a quote signs.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::reader::Reader;
use super::{HashAlg, ParseError};

/// Most banks a selection may name (a TPM has one bank per implemented hash; 16 is generous).
pub const MAX_BANKS: usize = 16;
/// Largest `sizeofSelect` accepted: 32 bytes of bitmap select PCRs 0–255.
pub const MAX_SELECT_BYTES: usize = 32;
/// `PCR_SELECT_MIN`: TPMs expect a bitmap of at least 3 bytes (PCRs 0–23).
const MIN_SELECT_BYTES: usize = 3;

/// A `TPML_PCR_SELECTION`: for each bank, in wire order, the PCR indices selected.
///
/// The TPM hashes the selected PCRs bank by bank in this order, indices ascending within a bank.
/// Two selections are equal when they name the same banks in the same order with the same PCRs;
/// the bitmap width on the wire is not kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PcrSelection {
    /// `(bank, PCR indices)` in wire order. A bank may select no PCR.
    pub banks: Vec<(HashAlg, BTreeSet<u8>)>,
}

impl PcrSelection {
    /// One SHA-256 bank with `pcrs` selected.
    pub fn sha256(pcrs: &[u8]) -> Self {
        Self {
            banks: vec![(HashAlg::Sha256, pcrs.iter().copied().collect())],
        }
    }

    /// The `TPML_PCR_SELECTION` bytes (bitmaps of at least 3 bytes, as TPMs expect).
    pub fn marshal(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.banks.len() * (3 + MIN_SELECT_BYTES));
        let count = u32::try_from(self.banks.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_be_bytes());
        for (alg, pcrs) in &self.banks {
            out.extend_from_slice(&alg.tpm_id().to_be_bytes());
            let width = pcrs
                .last()
                .map_or(0, |&max| usize::from(max) / 8 + 1)
                .max(MIN_SELECT_BYTES);
            let mut bitmap = vec![0u8; width];
            for &pcr in pcrs {
                if let Some(byte) = bitmap.get_mut(usize::from(pcr) / 8) {
                    *byte |= 1 << (pcr % 8);
                }
            }
            // `width` is at most 32, so it always fits the u8 `sizeofSelect`.
            out.push(u8::try_from(width).unwrap_or(u8::MAX));
            out.extend_from_slice(&bitmap);
        }
        out
    }

    /// Parses a complete `TPML_PCR_SELECTION`, rejecting trailing bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        let mut r = Reader::new(bytes);
        let sel = Self::read(&mut r)?;
        r.finish("TPML_PCR_SELECTION")?;
        Ok(sel)
    }

    /// Reads a `TPML_PCR_SELECTION` from the cursor.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, ParseError> {
        let count = r.u32("TPML_PCR_SELECTION.count")?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > MAX_BANKS {
            return Err(ParseError::TooLarge {
                what: "TPML_PCR_SELECTION.count",
                size: count,
                max: MAX_BANKS,
            });
        }
        let mut banks: Vec<(HashAlg, BTreeSet<u8>)> = Vec::with_capacity(count);
        for _ in 0..count {
            let id = r.u16("TPMS_PCR_SELECTION.hash")?;
            let alg = HashAlg::from_tpm(id).ok_or(ParseError::UnsupportedAlgorithm {
                what: "PCR bank",
                id,
            })?;
            if banks.iter().any(|(a, _)| *a == alg) {
                return Err(ParseError::DuplicateBank(alg));
            }
            let width = usize::from(r.u8("TPMS_PCR_SELECTION.sizeofSelect")?);
            if width > MAX_SELECT_BYTES {
                return Err(ParseError::TooLarge {
                    what: "TPMS_PCR_SELECTION.sizeofSelect",
                    size: width,
                    max: MAX_SELECT_BYTES,
                });
            }
            let bitmap = r.take(width, "TPMS_PCR_SELECTION.pcrSelect")?;
            let mut pcrs = BTreeSet::new();
            for (byte_index, byte) in (0u8..).zip(bitmap) {
                for bit in 0..8u8 {
                    if byte & (1 << bit) != 0 {
                        // byte_index < 32, so the index is at most 255.
                        pcrs.insert(byte_index * 8 + bit);
                    }
                }
            }
            banks.push((alg, pcrs));
        }
        Ok(Self { banks })
    }

    /// Every selected `(bank, PCR)` in the order the TPM hashes them.
    pub fn iter(&self) -> impl Iterator<Item = (HashAlg, u8)> + '_ {
        self.banks
            .iter()
            .flat_map(|(alg, pcrs)| pcrs.iter().map(move |&p| (*alg, p)))
    }

    /// How many PCR values the selection covers.
    pub fn len(&self) -> usize {
        self.banks.iter().map(|(_, pcrs)| pcrs.len()).sum()
    }

    /// Whether no PCR is selected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The PCRs selected in `alg`'s bank (empty if the bank is not named).
    pub fn pcrs(&self, alg: HashAlg) -> BTreeSet<u8> {
        self.banks
            .iter()
            .find(|(a, _)| *a == alg)
            .map(|(_, p)| p.clone())
            .unwrap_or_default()
    }
}

/// The PCR digest as `TPM2_Quote` computes it: `hash` over the concatenation of the selected PCR
/// values in selection order (banks in wire order, PCR indices ascending within a bank).
/// `hash` is the hash of the signing scheme, not the bank's.
pub fn pcr_digest(hash: HashAlg, values_in_selection_order: &[&[u8]]) -> Vec<u8> {
    hash.hash_parts(values_in_selection_order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_selection_marshals_as_tpm2_tools_sends_it() {
        // sha256:0,10,15 → count 1, TPM_ALG_SHA256, 3-byte bitmap 01 84 00 (as in swtpm quotes).
        let sel = PcrSelection::sha256(&[15, 0, 10]);
        assert_eq!(hex::encode(sel.marshal()), "00000001000b03018400");
        assert_eq!(PcrSelection::parse(&sel.marshal()).unwrap(), sel);
        assert_eq!(
            sel.iter().collect::<Vec<_>>(),
            [
                (HashAlg::Sha256, 0),
                (HashAlg::Sha256, 10),
                (HashAlg::Sha256, 15)
            ]
        );
    }

    #[test]
    fn wide_bitmaps_and_high_pcrs_round_trip() {
        let sel = PcrSelection {
            banks: vec![
                (HashAlg::Sha1, BTreeSet::new()),
                (HashAlg::Sha384, [0, 23, 24, 255].into()),
            ],
        };
        let bytes = sel.marshal();
        assert_eq!(PcrSelection::parse(&bytes).unwrap(), sel);
        assert_eq!(sel.len(), 4);
        // A 4-byte bitmap with only PCR 1 set equals the 3-byte form.
        let wide = hex::decode("00000001000b0402000000").unwrap();
        assert_eq!(
            PcrSelection::parse(&wide).unwrap(),
            PcrSelection::sha256(&[1])
        );
    }

    #[test]
    fn hostile_selections_are_rejected() {
        let too_many = hex::decode("00000011").unwrap();
        assert!(matches!(
            PcrSelection::parse(&too_many),
            Err(ParseError::TooLarge { .. })
        ));
        let dup = hex::decode("00000002000b03000001000b03000002").unwrap();
        assert_eq!(
            PcrSelection::parse(&dup),
            Err(ParseError::DuplicateBank(HashAlg::Sha256))
        );
        let sm3 = hex::decode("00000001001203000000").unwrap();
        assert!(matches!(
            PcrSelection::parse(&sm3),
            Err(ParseError::UnsupportedAlgorithm { id: 0x0012, .. })
        ));
        let wide = hex::decode("00000001000b21").unwrap();
        assert!(matches!(
            PcrSelection::parse(&wide),
            Err(ParseError::TooLarge { size: 33, .. })
        ));
        let trailing = hex::decode("00000001000b0301840000").unwrap();
        assert!(matches!(
            PcrSelection::parse(&trailing),
            Err(ParseError::TrailingBytes { .. })
        ));
    }

    #[test]
    fn pcr_digest_is_the_hash_of_the_concatenation() {
        let a = [1u8; 32];
        let b = [2u8; 32];
        let mut cat = a.to_vec();
        cat.extend_from_slice(&b);
        assert_eq!(
            pcr_digest(HashAlg::Sha256, &[&a, &b]),
            HashAlg::Sha256.hash(&cat)
        );
    }
}
