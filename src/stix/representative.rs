//! The name the platform shows for an element (`extractEntityRepresentativeName`,
//! `observableValue`): what export file names, job messages and listings call it.
//!
//! Works on a stored STIX body as well as on the platform's projection of it (hashes as a
//! STIX dictionary or as the platform's `[{algorithm, hash}]` list; `key` or
//! `attribute_key`), so the jobs layer and the GraphQL layer name things alike.

use serde_json::{Map, Value as Json};

fn s<'m>(m: &'m Map<String, Json>, k: &str) -> Option<&'m str> {
    m.get(k).and_then(Json::as_str).filter(|s| !s.is_empty())
}

fn text(m: &Map<String, Json>, k: &str) -> Option<String> {
    match m.get(k) {
        Some(Json::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Json::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// The first hash of SHA-256, SHA-512, SHA-1, MD5 (then any other).
fn hash_value(m: &Map<String, Json>) -> Option<String> {
    if let Some(dict) = m.get("hashes").and_then(Json::as_object) {
        let get = |alg: &str| dict.iter().find(|(a, _)| a.eq_ignore_ascii_case(alg)).and_then(|(_, h)| h.as_str());
        return ["SHA-256", "SHA-512", "SHA-1", "MD5"]
            .iter()
            .find_map(|a| get(a))
            .or_else(|| dict.values().find_map(Json::as_str))
            .map(str::to_string);
    }
    let list = m.get("hashes")?.as_array()?;
    let get = |alg: &str| {
        list.iter()
            .find(|h| h["algorithm"].as_str().is_some_and(|a| a.eq_ignore_ascii_case(alg)))
            .and_then(|h| h["hash"].as_str().map(str::to_string))
    };
    ["SHA-256", "SHA-512", "SHA-1", "MD5"]
        .iter()
        .find_map(|a| get(a))
        .or_else(|| list.iter().find_map(|h| h["hash"].as_str().map(str::to_string)))
}

/// The platform's representative value of an observable (`observableValue`).
pub fn observable_value(m: &Map<String, Json>, entity_type: &str) -> String {
    let first = |keys: &[&str]| keys.iter().find_map(|k| text(m, k));
    let v = match entity_type {
        "Autonomous-System" => first(&["name", "number"]),
        "Directory" => first(&["path"]),
        "Email-Message" => first(&["body", "subject"]),
        "Artifact" => hash_value(m).or_else(|| first(&["payload_bin", "url"])),
        "StixFile" => hash_value(m).or_else(|| first(&["name"])),
        "X509-Certificate" => hash_value(m).or_else(|| first(&["subject", "issuer"])),
        "Mutex" => first(&["name"]),
        "Network-Traffic" => first(&["src_port", "dst_port"]),
        "Process" => first(&["pid", "command_line"]),
        "Software" => match (s(m, "name"), s(m, "version")) {
            (Some(n), Some(v)) => Some(format!("{n} ({v})")),
            (Some(n), None) => Some(n.to_string()),
            _ => first(&["cpe", "swid"]),
        },
        "User-Account" => first(&["account_login", "user_id"]),
        "Bank-Account" => first(&["iban"]),
        "Payment-Card" => first(&["card_number", "holder_name"]),
        "Windows-Registry-Key" => first(&["attribute_key", "key"]),
        "Windows-Registry-Value-Type" => first(&["name", "data"]),
        "Media-Content" => first(&["content", "title", "url"]),
        "Persona" => first(&["persona_name"]),
        "SSH-Key" => first(&["fingerprint_sha256", "fingerprint_md5", "key_type"]),
        "Email-Mime-Part-Type" => first(&["body", "content_type"]),
        _ => first(&["value"]),
    };
    v.unwrap_or_else(|| "Unknown".into())
}

/// The representative name of an element of `entity_type`: its name (or the field that
/// stands for it: a note's abstract or content, an opinion, an analysis' result name, a
/// marking's definition), else for an observable its representative value; `Unknown` when
/// nothing fits.
pub fn representative_name(m: &Map<String, Json>, entity_type: &str, observable: bool) -> String {
    let named = match entity_type {
        "Note" => text(m, "abstract").or_else(|| text(m, "content")),
        "Opinion" => text(m, "opinion"),
        "Malware-Analysis" => text(m, "result_name"),
        "Marking-Definition" => text(m, "x_opencti_definition").or_else(|| text(m, "name")),
        "External-Reference" => text(m, "source_name").or_else(|| text(m, "url")),
        "Kill-Chain-Phase" => text(m, "phase_name"),
        "Label" => text(m, "value"),
        _ if observable => None,
        _ => text(m, "name"),
    };
    named.unwrap_or_else(|| if observable { observable_value(m, entity_type) } else { "Unknown".into() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> Map<String, Json> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn hashes_are_read_in_either_shape() {
        let stix = map(json!({"hashes": {"MD5": "aa", "SHA-256": "bb"}, "name": "x.exe"}));
        let projected = map(json!({"hashes": [{"algorithm": "MD5", "hash": "aa"}, {"algorithm": "SHA-256", "hash": "bb"}]}));
        assert_eq!(observable_value(&stix, "StixFile"), "bb");
        assert_eq!(observable_value(&projected, "StixFile"), "bb");
    }

    #[test]
    fn names_then_observable_values_then_unknown() {
        assert_eq!(representative_name(&map(json!({"name": "Op Foo"})), "Report", false), "Op Foo");
        assert_eq!(representative_name(&map(json!({"value": "198.51.100.7"})), "IPv4-Addr", true), "198.51.100.7");
        assert_eq!(representative_name(&map(json!({"content": "seen"})), "Note", false), "seen");
        assert_eq!(representative_name(&map(json!({})), "Report", false), "Unknown");
    }
}
