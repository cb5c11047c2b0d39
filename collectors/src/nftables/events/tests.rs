//! Parser tests over datagrams captured from the kernel (6.18, x86_64) with a netlink socket on
//! `NFNLGRP_NFTABLES`, and over malformed variants of them.

use super::*;

/// `nft add table inet t` (pid 17716), datagram 1 of 2: NFT_MSG_NEWTABLE.
const NEWTABLE: &str = "38000000000a0000010000003445000001000002060001007400000008000300000000000c00040000000000000000010800020000000000";
/// ... datagram 2 of 2: NFT_MSG_NEWGEN, generation 2, pid 17716, comm "nft".
const NEWGEN_ADD_TABLE: &str =
    "2c0000000f0a000001000000344500000000000208000100000000020800020000004534080003006e667400";
/// `nft -f` adding a chain and a rule (pid 17762), datagram 1 of 2: NEWCHAIN + NEWRULE packed.
const NEWCHAIN_NEWRULE: &str = "68000000030a0004010000006245000001000003060001007400000006000300630000000c0002000000000000000001140004000800010000000001080002000000000008000500000000010b00070066696c746572000008000a0000000001080006000000000114010000060a000c020000006245000001000003060001007400000006000200630000000c0003000000000000000002e400040024000100090001006d6574610000000014000200080002000000001008000100000000012c00010008000100636d700020000200080001000000000108000200000000000c0003000500010006000000340001000c0001007061796c6f6164002400020008000100000000010800020000000002080003000000000208000400000000022c00010008000100636d700020000200080001000000000108000200000000000c0003000600010000160000300001000e000100696d6d6564696174650000001c0002000800010000000000100002000c0002000800010000000001";
/// ... datagram 2 of 2: NEWGEN, generation 3, pid 17762, comm "nft".
const NEWGEN_BATCH: &str =
    "2c0000000f0a000001000000624500000000000308000100000000030800020000004562080003006e667400";

fn bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn committed(generation: u32, pid: u32, comm: &str) -> NftEvent {
    NftEvent::Committed {
        generation,
        pid,
        comm: comm.to_owned(),
    }
}

/// A netlink message of `msg_type` around `payload` (native-endian header, padded).
fn message(msg_type: u16, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(NLMSG_HDRLEN + payload.len()).unwrap();
    let mut m = Vec::new();
    m.extend_from_slice(&len.to_ne_bytes());
    m.extend_from_slice(&msg_type.to_ne_bytes());
    m.extend_from_slice(&[0; 10]);
    m.extend_from_slice(payload);
    while m.len() % 4 != 0 {
        m.push(0);
    }
    m
}

fn attr(kind: u16, value: &[u8]) -> Vec<u8> {
    let mut a = Vec::new();
    a.extend_from_slice(
        &u16::try_from(NLA_HDRLEN + value.len())
            .unwrap()
            .to_ne_bytes(),
    );
    a.extend_from_slice(&kind.to_ne_bytes());
    a.extend_from_slice(value);
    while a.len() % 4 != 0 {
        a.push(0);
    }
    a
}

fn newgen(attrs: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = vec![0, 0, 0, 0];
    for a in attrs {
        payload.extend_from_slice(a);
    }
    message(0x0a0f, &payload)
}

#[cfg(target_endian = "little")]
#[test]
fn captured_newgen_carries_generation_pid_and_comm() {
    assert_eq!(
        parse_datagram(&bytes(NEWGEN_ADD_TABLE)).unwrap(),
        vec![committed(2, 17716, "nft")]
    );
    assert_eq!(
        parse_datagram(&bytes(NEWGEN_BATCH)).unwrap(),
        vec![committed(3, 17762, "nft")]
    );
}

#[cfg(target_endian = "little")]
#[test]
fn captured_object_messages_are_framed_and_skipped() {
    assert_eq!(parse_datagram(&bytes(NEWTABLE)).unwrap(), vec![]);
    assert_eq!(parse_datagram(&bytes(NEWCHAIN_NEWRULE)).unwrap(), vec![]);
}

#[cfg(target_endian = "little")]
#[test]
fn a_transaction_packed_in_one_datagram_is_one_commit() {
    let mut d = bytes(NEWCHAIN_NEWRULE);
    d.extend(bytes(NEWGEN_BATCH));
    assert_eq!(
        parse_datagram(&d).unwrap(),
        vec![committed(3, 17762, "nft")]
    );
}

#[test]
fn overrun_message_is_an_overrun_event() {
    assert_eq!(
        parse_datagram(&message(NLMSG_OVERRUN, &[])).unwrap(),
        vec![NftEvent::Overrun]
    );
}

#[test]
fn control_and_other_subsystem_messages_are_ignored() {
    let mut d = message(1, &[]); // NLMSG_NOOP
    d.extend(message(3, &[0; 4])); // NLMSG_DONE
    d.extend(message(0x010f, &[0; 4])); // conntrack subsystem, same op number
    assert_eq!(parse_datagram(&d).unwrap(), vec![]);
}

#[test]
fn built_newgen_matches_the_kernel_layout() {
    let d = newgen(&[
        attr(NFTA_GEN_ID, &7u32.to_be_bytes()),
        attr(NFTA_GEN_PROC_PID, &99u32.to_be_bytes()),
        attr(NFTA_GEN_PROC_NAME, b"iptables-nft\0"),
    ]);
    assert_eq!(
        parse_datagram(&d).unwrap(),
        vec![committed(7, 99, "iptables-nft")]
    );
}

#[test]
fn unknown_attributes_and_flag_bits_are_tolerated() {
    let d = newgen(&[
        attr(42, b"future"),
        attr(NFTA_GEN_ID | 0x8000, &7u32.to_be_bytes()),
    ]);
    assert_eq!(parse_datagram(&d).unwrap(), vec![committed(7, 0, "")]);
}

#[test]
fn comm_is_cut_at_nul_and_decoded_lossily() {
    let d = newgen(&[
        attr(NFTA_GEN_ID, &1u32.to_be_bytes()),
        attr(NFTA_GEN_PROC_NAME, b"ev\xffil\0junk"),
    ]);
    assert_eq!(
        parse_datagram(&d).unwrap(),
        vec![committed(1, 0, "ev\u{fffd}il")]
    );
}

#[test]
fn newgen_without_generation_is_an_error() {
    let d = newgen(&[attr(NFTA_GEN_PROC_PID, &1u32.to_be_bytes())]);
    assert_eq!(parse_datagram(&d), Err(ParseError::MissingGeneration));
}

#[test]
fn wrong_sized_generation_is_an_error() {
    let d = newgen(&[attr(NFTA_GEN_ID, &[1, 2])]);
    assert_eq!(
        parse_datagram(&d),
        Err(ParseError::AttributeSize { kind: 1, len: 2 })
    );
}

#[test]
fn newgen_without_nfgenmsg_is_an_error() {
    assert_eq!(
        parse_datagram(&message(0x0a0f, &[0, 0])),
        Err(ParseError::TruncatedNfgenmsg)
    );
}

#[test]
fn lengths_past_the_datagram_are_errors() {
    let mut d = bytes(NEWGEN_ADD_TABLE);
    d[0] = 0xff; // message length 255 > 44
    assert!(matches!(
        parse_datagram(&d),
        Err(ParseError::MessageLength { .. })
    ));
    let mut d = bytes(NEWGEN_ADD_TABLE);
    d[0] = 4; // shorter than a header
    assert!(matches!(
        parse_datagram(&d),
        Err(ParseError::MessageLength { .. })
    ));
    let mut d = bytes(NEWGEN_ADD_TABLE);
    d[20] = 0x40; // first attribute claims 64 bytes
    assert!(matches!(
        parse_datagram(&d),
        Err(ParseError::AttributeLength { .. })
    ));
    let mut d = bytes(NEWGEN_ADD_TABLE);
    d[20] = 2; // first attribute shorter than its header
    assert!(matches!(
        parse_datagram(&d),
        Err(ParseError::AttributeLength { .. })
    ));
}

#[test]
fn every_truncation_and_byte_flip_is_handled_without_panic() {
    let mut all = bytes(NEWCHAIN_NEWRULE);
    all.extend(bytes(NEWGEN_BATCH));
    for len in 0..=all.len() {
        let _ = parse_datagram(&all[..len]);
    }
    for i in 0..all.len() {
        for v in [0x00, 0x01, 0x03, 0x0f, 0x7f, 0x80, 0xff] {
            let mut d = all.clone();
            d[i] = v;
            let _ = parse_datagram(&d);
        }
    }
    assert_eq!(parse_datagram(&[]).unwrap(), vec![]);
    assert_eq!(
        parse_datagram(&[0; 3]),
        Err(ParseError::TruncatedHeader { offset: 0 })
    );
}
