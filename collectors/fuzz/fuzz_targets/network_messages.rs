//! Fuzzes the network collector's handling of rtnetlink bytes: the notification classifier
//! (which walks headers itself) on any bytes, and the netlink → model conversion on whatever
//! messages the input holds. Whatever converts must canonicalise, be normalised, verify as
//! RFC 8785, and convert again to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use netlink_packet_core::{NetlinkBuffer, NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use palisade_collectors::network::{self, convert};
use palisade_evidence::Canonical;

fuzz_target!(|data: &[u8]| {
    let _ = network::classify_notifications(data);

    let mut snapshot = convert::Snapshot::default();
    let mut offset = 0usize;
    while let Some(bytes) = data.get(offset..).filter(|b| b.len() >= 16) {
        let Ok(frame) = NetlinkBuffer::new_checked(bytes) else {
            break;
        };
        let len = frame.length() as usize;
        if let Ok(msg) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[..len]) {
            match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) => {
                    snapshot.links.push(m)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewAddress(m)) => {
                    snapshot.addresses.push(m)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => {
                    snapshot.routes.push(m)
                }
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRule(m)) => {
                    snapshot.rules.push(m)
                }
                _ => {}
            }
        }
        offset += len.max(16).next_multiple_of(4);
    }
    if let Ok(config) = convert::convert(&snapshot) {
        assert!(config.is_normalized());
        let canonical = config.canonical().expect("a converted document canonicalises");
        Canonical::verify_bytes(canonical.as_bytes()).expect("canonical bytes verify");
        let again = convert::convert(&snapshot).expect("conversion is deterministic");
        assert_eq!(again.canonical().expect("canonicalises"), canonical);
    }
});
