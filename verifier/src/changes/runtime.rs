//! What changed in a runtime document (`bpf`, `sockets`, `kernel`) between two verified
//! versions: the entries of each of its lists added and removed, and one line per change for an
//! alert (`+ xdp on eth0: xdp_pass (tag 614b434cd8324ecc)`). The documents are canonical and
//! their lists sorted sets, so the diff is a set difference per list.

use serde_json::{json, Map, Value};

/// Most lines of text kept per document.
pub const MAX_LINES: usize = 100;

/// Whether a document kind has a runtime diff.
pub fn is_runtime(kind: &str) -> bool {
    matches!(kind, "bpf" | "sockets" | "kernel")
}

/// `{added: {list: [..]}, removed: {list: [..]}, text: [..]}` between `old` (absent: empty)
/// and `new`; `diff_error` when a side does not parse.
pub fn change(kind: &str, old: Option<&[u8]>, new: &[u8]) -> Value {
    let parse = |b: &[u8]| serde_json::from_slice::<Value>(b);
    let old = match old.map(parse).transpose() {
        Ok(v) => v.unwrap_or_else(|| json!({})),
        Err(e) => return json!({ "diff_error": format!("previous document does not parse: {e}") }),
    };
    let new = match parse(new) {
        Ok(v) => v,
        Err(e) => return json!({ "diff_error": format!("new document does not parse: {e}") }),
    };
    let (mut added, mut removed, mut text) = (Map::new(), Map::new(), Vec::new());
    let lists = new
        .as_object()
        .into_iter()
        .flatten()
        .chain(old.as_object().into_iter().flatten());
    let mut seen = std::collections::BTreeSet::new();
    for (list, _) in lists {
        if !seen.insert(list.clone()) {
            continue;
        }
        let items = |doc: &Value| -> Vec<Value> {
            match doc.get(list) {
                Some(Value::Array(a)) => a.clone(),
                // Scalars and maps (kernel sysctls): compared as one item.
                Some(v) if list != "format" => vec![v.clone()],
                _ => Vec::new(),
            }
        };
        let (before, after) = (items(&old), items(&new));
        let plus: Vec<Value> = after
            .iter()
            .filter(|v| !before.contains(v))
            .cloned()
            .collect();
        let minus: Vec<Value> = before
            .iter()
            .filter(|v| !after.contains(v))
            .cloned()
            .collect();
        for (sign, set) in [('+', &plus), ('-', &minus)] {
            for item in set.iter() {
                if text.len() < MAX_LINES {
                    text.push(format!("{sign} {}", line(kind, list, item)));
                }
            }
        }
        if !plus.is_empty() {
            added.insert(list.clone(), Value::Array(plus));
        }
        if !minus.is_empty() {
            removed.insert(list.clone(), Value::Array(minus));
        }
    }
    json!({ "added": added, "removed": removed, "text": text })
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("?")
}

fn tag(v: &Value) -> String {
    let tag = s(v, "tag");
    format!("{} {} (tag {tag})", s(v, "type"), s(v, "name"))
}

fn owners(v: &Value) -> String {
    let names: Vec<&str> = v
        .get("owners")
        .and_then(Value::as_array)
        .map(|o| o.iter().map(|x| s(x, "comm")).collect())
        .unwrap_or_default();
    if names.is_empty() {
        "no owner".to_owned()
    } else {
        names.join(", ")
    }
}

/// One readable line for an item of `list` in a `kind` document.
fn line(kind: &str, list: &str, item: &Value) -> String {
    match (kind, list) {
        ("bpf", "attachments") => {
            let program = item.get("program").map_or_else(|| "?".to_owned(), tag);
            let details = item
                .get("details")
                .and_then(Value::as_object)
                .map(|d| {
                    d.iter()
                        .map(|(k, v)| {
                            format!(
                                "{k}={}",
                                v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|d| !d.is_empty())
                .map(|d| format!(" [{d}]"))
                .unwrap_or_default();
            format!(
                "{} on {}{details}: {program}",
                s(item, "hook"),
                s(item, "target")
            )
        }
        ("bpf", "programs") => format!("program {} loaded by uid {}", tag(item), item["uid"]),
        ("sockets", "listeners") => format!(
            "{} listener on {} port {} ({})",
            s(item, "protocol"),
            s(item, "address"),
            item.get("port").unwrap_or(&Value::Null),
            owners(item)
        ),
        ("sockets", "raw") => format!(
            "raw socket, protocol {} ({})",
            item["protocol"],
            owners(item)
        ),
        ("sockets", "packet") => format!(
            "packet socket, protocol {} ({})",
            item["protocol"],
            owners(item)
        ),
        (_, "flags") => format!("flag {}", item.as_str().unwrap_or("?")),
        _ => format!("{list}: {item}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
mod tests {
    use super::*;

    #[test]
    fn an_attached_xdp_program_is_one_line_naming_hook_target_and_program() {
        let prog =
            json!({"type": "xdp", "name": "xdp_pass", "tag": "614b434cd8324ecc", "digest": "d"});
        let old =
            json!({"format": "palisade.bpf/1", "programs": [], "attachments": [], "flags": []});
        let new = json!({"format": "palisade.bpf/1",
            "programs": [{"type": "xdp", "name": "xdp_pass", "tag": "614b434cd8324ecc", "digest": "d",
                          "uid": 0, "gpl": true, "xlated_bytes": 16, "maps": 0, "palisade": false, "count": 1}],
            "attachments": [{"hook": "xdp", "target": "eth0", "details": {"mode": "driver"}, "program": prog}],
            "flags": ["xdp_attached"]});
        let c = change(
            "bpf",
            Some(old.to_string().as_bytes()),
            new.to_string().as_bytes(),
        );
        let text: Vec<&str> = c["text"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        assert!(
            text.contains(&"+ xdp on eth0 [mode=driver]: xdp xdp_pass (tag 614b434cd8324ecc)"),
            "{text:?}"
        );
        assert!(text.contains(&"+ flag xdp_attached"));
        assert_eq!(c["added"]["attachments"].as_array().unwrap().len(), 1);
        assert!(c["removed"].as_object().unwrap().is_empty());
        // And back.
        let back = change(
            "bpf",
            Some(new.to_string().as_bytes()),
            old.to_string().as_bytes(),
        );
        assert_eq!(back["removed"]["attachments"], c["added"]["attachments"]);
    }

    #[test]
    fn listeners_name_their_owners_and_unparseable_sides_are_reported() {
        let new = json!({"format": "palisade.sockets/1", "listeners": [
            {"protocol": "tcp", "family": "inet", "address": "0.0.0.0", "port": 22, "count": 1,
             "owners": [{"comm": "sshd", "exe": "/usr/sbin/sshd", "uid": 0}]}], "raw": [], "packet": [], "flags": []});
        let c = change("sockets", None, new.to_string().as_bytes());
        assert_eq!(c["text"][0], "+ tcp listener on 0.0.0.0 port 22 (sshd)");
        assert!(change("sockets", Some(b"{"), b"{}")["diff_error"].is_string());
    }
}
