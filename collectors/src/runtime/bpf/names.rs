//! palisade's names for the kernel's BPF numbers (program, attach and link types, map types),
//! the way bpftool spells them. Names, not numbers, go into documents; a number this table does
//! not know becomes `unknown-N`, never an error (newer kernels add types).

const PROG_TYPES: [&str; 33] = [
    "unspec",
    "socket_filter",
    "kprobe",
    "sched_cls",
    "sched_act",
    "tracepoint",
    "xdp",
    "perf_event",
    "cgroup_skb",
    "cgroup_sock",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "sock_ops",
    "sk_skb",
    "cgroup_device",
    "sk_msg",
    "raw_tracepoint",
    "cgroup_sock_addr",
    "lwt_seg6local",
    "lirc_mode2",
    "sk_reuseport",
    "flow_dissector",
    "cgroup_sysctl",
    "raw_tracepoint_writable",
    "cgroup_sockopt",
    "tracing",
    "struct_ops",
    "ext",
    "lsm",
    "sk_lookup",
    "syscall",
    "netfilter",
];

const ATTACH_TYPES: [&str; 58] = [
    "cgroup_inet_ingress",
    "cgroup_inet_egress",
    "cgroup_inet_sock_create",
    "cgroup_sock_ops",
    "sk_skb_stream_parser",
    "sk_skb_stream_verdict",
    "cgroup_device",
    "sk_msg_verdict",
    "cgroup_inet4_bind",
    "cgroup_inet6_bind",
    "cgroup_inet4_connect",
    "cgroup_inet6_connect",
    "cgroup_inet4_post_bind",
    "cgroup_inet6_post_bind",
    "cgroup_udp4_sendmsg",
    "cgroup_udp6_sendmsg",
    "lirc_mode2",
    "flow_dissector",
    "cgroup_sysctl",
    "cgroup_udp4_recvmsg",
    "cgroup_udp6_recvmsg",
    "cgroup_getsockopt",
    "cgroup_setsockopt",
    "trace_raw_tp",
    "trace_fentry",
    "trace_fexit",
    "modify_return",
    "lsm_mac",
    "trace_iter",
    "cgroup_inet4_getpeername",
    "cgroup_inet6_getpeername",
    "cgroup_inet4_getsockname",
    "cgroup_inet6_getsockname",
    "xdp_devmap",
    "cgroup_inet_sock_release",
    "xdp_cpumap",
    "sk_lookup",
    "xdp",
    "sk_skb_verdict",
    "sk_reuseport_select",
    "sk_reuseport_select_or_migrate",
    "perf_event",
    "trace_kprobe_multi",
    "lsm_cgroup",
    "struct_ops",
    "netfilter",
    "tcx_ingress",
    "tcx_egress",
    "trace_uprobe_multi",
    "cgroup_unix_connect",
    "cgroup_unix_sendmsg",
    "cgroup_unix_recvmsg",
    "cgroup_unix_getpeername",
    "cgroup_unix_getsockname",
    "netkit_primary",
    "netkit_peer",
    "trace_kprobe_session",
    "trace_uprobe_session",
];

const LINK_TYPES: [&str; 15] = [
    "unspec",
    "raw_tracepoint",
    "tracing",
    "cgroup",
    "iter",
    "netns",
    "xdp",
    "perf_event",
    "kprobe_multi",
    "struct_ops",
    "netfilter",
    "tcx",
    "uprobe_multi",
    "netkit",
    "sockmap",
];

fn name(table: &[&str], n: u32) -> String {
    table
        .get(n as usize)
        .map_or_else(|| format!("unknown-{n}"), |s| (*s).to_owned())
}

/// A program type's name.
pub(crate) fn prog_type(n: u32) -> String {
    name(&PROG_TYPES, n)
}

/// An attach type's name.
pub(crate) fn attach_type(n: u32) -> String {
    name(&ATTACH_TYPES, n)
}

/// A link type's name.
pub(crate) fn link_type(n: u32) -> String {
    name(&LINK_TYPES, n)
}

/// Attach types queried on every cgroup: every `cgroup_*` type.
pub(crate) fn cgroup_attach_types() -> impl Iterator<Item = u32> {
    ATTACH_TYPES
        .iter()
        .enumerate()
        .filter(|(_, n)| n.starts_with("cgroup_") || **n == "lsm_cgroup")
        .map(|(i, _)| i as u32)
}

/// Numbers of the attach types queried on an interface or a namespace.
pub(crate) mod attach {
    /// `BPF_FLOW_DISSECTOR`.
    pub(crate) const FLOW_DISSECTOR: u32 = 17;
    /// `BPF_SK_LOOKUP`.
    pub(crate) const SK_LOOKUP: u32 = 36;
    /// `BPF_TCX_INGRESS`.
    pub(crate) const TCX_INGRESS: u32 = 46;
    /// `BPF_TCX_EGRESS`.
    pub(crate) const TCX_EGRESS: u32 = 47;
}

/// `NFPROTO_*` and `NF_INET_*` names for netfilter links.
pub(crate) fn netfilter(pf: u32, hook: u32) -> (String, String) {
    let family = match pf {
        1 => "inet",
        2 => "ipv4",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ipv6",
        n => return (format!("unknown-{n}"), format!("unknown-{hook}")),
    };
    let hook = match hook {
        0 => "prerouting",
        1 => "input",
        2 => "forward",
        3 => "output",
        4 => "postrouting",
        5 => "ingress",
        n => return (family.to_owned(), format!("unknown-{n}")),
    };
    (family.to_owned(), hook.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_the_uapi_enums() {
        assert_eq!(prog_type(6), "xdp");
        assert_eq!(prog_type(32), "netfilter");
        assert_eq!(prog_type(99), "unknown-99");
        assert_eq!(attach_type(17), "flow_dissector");
        assert_eq!(attach_type(36), "sk_lookup");
        assert_eq!(attach_type(37), "xdp");
        assert_eq!(attach_type(46), "tcx_ingress");
        assert_eq!(attach_type(45), "netfilter");
        assert_eq!(link_type(6), "xdp");
        assert_eq!(link_type(11), "tcx");
        assert!(cgroup_attach_types().any(|t| t == 0));
        assert!(!cgroup_attach_types().any(|t| t == 37));
        assert_eq!(netfilter(2, 1), ("ipv4".into(), "input".into()));
    }
}
