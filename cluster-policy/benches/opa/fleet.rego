# The benchmark's two constraints as one OPA query over the whole fleet, for a side-by-side run
# of OPA on palisade's own templates and input (cluster-policy/benches/cluster.rs writes the
# input: every node's document, the cluster summary palisade builds in Rust, and each
# constraint's parameters with their defaults filled in).
package bench

import rego.v1

violation contains {"constraint": "no-admin-ports", "node": id, "msg": v.msg} if {
	some id, node in input.nodes
	some v in data.palisade.templates.admin_ports.violation with input as {"node": node, "parameters": input.parameters.admin_ports}
}

violation contains {"constraint": "same-firewall-per-role", "nodes": v.nodes, "msg": v.msg} if {
	some v in data.palisade.templates.firewall_consistency.violation with input as {"cluster": input.cluster, "parameters": input.parameters.firewall_consistency}
}
