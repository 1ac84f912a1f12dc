//! STIX facts the platform relies on: the OpenCTI extension, and how STIX types map to
//! OpenCTI entity types.

pub mod hierarchy;
pub mod markings;
pub mod observable_syntax;
pub mod pattern;
pub mod plain_pattern;
pub mod refusals;
pub mod relationships;
pub mod representative;
pub mod standard_id;
pub mod supported_types;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

/// A STIX bundle read without parsing its objects: each stays raw JSON text borrowed from
/// the input (bundles can be tens of megabytes; the worker, the splitter and the validator
/// only look at one object at a time).
#[derive(Debug, Deserialize)]
pub struct BundleEnvelope<'a> {
    /// `type` (`"bundle"` for a bundle).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The bundle's id.
    pub id: Option<String>,
    /// The objects, raw.
    #[serde(borrow)]
    pub objects: Option<Vec<&'a RawValue>>,
    /// OpenCTI's event version marker (`x_opencti_event_version`).
    pub x_opencti_event_version: Option<String>,
}

impl BundleEnvelope<'_> {
    /// Number of objects of a bundle text (0 when it is not a bundle).
    pub fn count_objects(text: &str) -> usize {
        serde_json::from_str::<BundleEnvelope>(text).ok().and_then(|e| e.objects.map(|o| o.len())).unwrap_or(0)
    }
}

/// The OpenCTI extension definition id carried by objects the platform emits.
pub const OPENCTI_EXTENSION: &str = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba";

/// Observable STIX types and their OpenCTI entity types (pycti's
/// `STIX_CYBER_OBSERVABLE_MAPPING`, pycti 7.261026.0 `utils/opencti_stix2_utils.py`).
pub const OBSERVABLE_TYPES: &[(&str, &str)] = &[
    ("autonomous-system", "Autonomous-System"),
    ("directory", "Directory"),
    ("domain-name", "Domain-Name"),
    ("email-addr", "Email-Addr"),
    ("email-message", "Email-Message"),
    ("email-mime-part-type", "Email-Mime-Part-Type"),
    ("artifact", "Artifact"),
    ("file", "StixFile"),
    ("x509-certificate", "X509-Certificate"),
    ("ipv4-addr", "IPv4-Addr"),
    ("ipv6-addr", "IPv6-Addr"),
    ("mac-addr", "Mac-Addr"),
    ("mutex", "Mutex"),
    ("network-traffic", "Network-Traffic"),
    ("process", "Process"),
    ("software", "Software"),
    ("url", "Url"),
    ("user-account", "User-Account"),
    ("windows-registry-key", "Windows-Registry-Key"),
    ("windows-registry-value-type", "Windows-Registry-Value-Type"),
    ("hostname", "Hostname"),
    ("cryptographic-key", "Cryptographic-Key"),
    ("cryptocurrency-wallet", "Cryptocurrency-Wallet"),
    ("text", "Text"),
    ("user-agent", "User-Agent"),
    ("bank-account", "Bank-Account"),
    ("phone-number", "Phone-Number"),
    ("credential", "Credential"),
    ("tracking-number", "Tracking-Number"),
    ("payment-card", "Payment-Card"),
    ("media-content", "Media-Content"),
    ("simple-observable", "Simple-Observable"),
    ("persona", "Persona"),
    ("ssh-key", "SSH-Key"),
    ("ai-prompt", "AI-Prompt"),
    ("imei", "IMEI"),
    ("iccid", "ICCID"),
    ("imsi", "IMSI"),
];

/// Domain, meta and relationship STIX types and their OpenCTI entity types, where the
/// type alone decides it.
const FIXED_TYPES: &[(&str, &str)] = &[
    ("attack-pattern", "Attack-Pattern"),
    ("campaign", "Campaign"),
    ("channel", "Channel"),
    ("course-of-action", "Course-Of-Action"),
    ("data-component", "Data-Component"),
    ("x-mitre-data-component", "Data-Component"),
    ("data-source", "Data-Source"),
    ("x-mitre-data-source", "Data-Source"),
    ("event", "Event"),
    ("grouping", "Grouping"),
    ("incident", "Incident"),
    ("indicator", "Indicator"),
    ("infrastructure", "Infrastructure"),
    ("intrusion-set", "Intrusion-Set"),
    ("language", "Language"),
    ("malware", "Malware"),
    ("malware-analysis", "Malware-Analysis"),
    ("narrative", "Narrative"),
    ("note", "Note"),
    ("observed-data", "Observed-Data"),
    ("opinion", "Opinion"),
    ("report", "Report"),
    ("tool", "Tool"),
    ("vulnerability", "Vulnerability"),
    ("case-incident", "Case-Incident"),
    ("x-opencti-case-incident", "Case-Incident"),
    ("case-rfi", "Case-Rfi"),
    ("x-opencti-case-rfi", "Case-Rfi"),
    ("case-rft", "Case-Rft"),
    ("x-opencti-case-rft", "Case-Rft"),
    ("feedback", "Feedback"),
    ("x-opencti-feedback", "Feedback"),
    ("task", "Task"),
    ("x-opencti-task", "Task"),
    ("security-coverage", "Security-Coverage"),
    ("security-coverage-result", "Security-Coverage-Result"),
    ("marking-definition", "Marking-Definition"),
    ("label", "Label"),
    ("vocabulary", "Vocabulary"),
    ("kill-chain-phase", "Kill-Chain-Phase"),
    ("external-reference", "External-Reference"),
    ("sighting", "stix-sighting-relationship"),
    ("pir", "Pir"),
];

/// The OpenCTI entity type of a STIX object (`IPv4-Addr`, `Organization`, `indicates`…).
/// Types that depend on properties (identity, location, threat actor, relationship) read
/// them; unknown types yield `None`.
pub fn entity_type_of(stix_type: &str, obj: &Value) -> Option<String> {
    let prop = |k: &str| obj.get(k).and_then(Value::as_str);
    let x_type =
        prop("x_opencti_type").or_else(|| obj.pointer(&format!("/extensions/{OPENCTI_EXTENSION}/type")).and_then(Value::as_str));
    let t = match stix_type {
        "identity" => match x_type {
            Some(t) => t.to_string(),
            None => match prop("identity_class") {
                Some("individual") => "Individual",
                Some("sector") | Some("class") => "Sector",
                Some("system") => "System",
                _ => "Organization",
            }
            .to_string(),
        },
        "location" => match x_type.or_else(|| prop("x_opencti_location_type")) {
            Some(t) => t.to_string(),
            None if obj.get("latitude").is_some() && obj.get("city").is_none() => "Position".into(),
            None if obj.get("city").is_some() => "City".into(),
            None if obj.get("country").is_some() => "Country".into(),
            None if obj.get("region").is_some() => "Region".into(),
            None => "Location".into(),
        },
        "threat-actor" => match x_type {
            Some(t) => t.to_string(),
            None if prop("resource_level") == Some("individual") => "Threat-Actor-Individual".into(),
            None => "Threat-Actor-Group".into(),
        },
        "relationship" => prop("relationship_type").unwrap_or("related-to").to_string(),
        other => {
            let observable = OBSERVABLE_TYPES.iter().find(|(s, _)| *s == other).map(|(_, e)| *e);
            let fixed = FIXED_TYPES.iter().find(|(s, _)| *s == other).map(|(_, e)| *e);
            match observable.or(fixed) {
                Some(t) => t.to_string(),
                None => return None,
            }
        }
    };
    Some(t)
}

/// Whether a STIX type is an observable.
pub fn is_observable_type(stix_type: &str) -> bool {
    OBSERVABLE_TYPES.iter().any(|(s, _)| *s == stix_type)
}
