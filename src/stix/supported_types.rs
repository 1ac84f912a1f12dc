//! The types pycti's worker keeps when it splits a bundle: the STIX types the platform
//! imports and OpenCTI's own internal objects. Anything else is dropped by the splitter
//! ([`crate::ingest::split`]), and `opencti-mock validate` names such a type as one the
//! platform would drop. Pure data, so that validation and the worker share it.

/// pycti 7.261026.0's `SUPPORTED_INTERNAL_OBJECTS` (`pycti/utils/opencti_stix2_utils.py`):
/// OpenCTI's own objects (users, works, playbooks…) that the splitter passes through. They
/// are not STIX objects.
pub const INTERNAL_OBJECT_TYPES: &[&str] = &[
    "user",
    "group",
    "capability",
    "role",
    "settings",
    "notification",
    "work",
    "trash",
    "draftworkspace",
    "playbook",
    "deleteoperation",
    "workspace",
    "publicdashboard",
];

/// The STIX types the splitter keeps besides the internal objects (pycti's
/// `supported_types`: entities, observables, relationships and `pir`).
pub const STIX_TYPES: &[&str] = &[
    "label",
    "vocabulary",
    "kill-chain-phase",
    "attack-pattern",
    "campaign",
    "case-incident",
    "x-opencti-case-incident",
    "case-rfi",
    "x-opencti-case-rfi",
    "case-rft",
    "x-opencti-case-rft",
    "channel",
    "course-of-action",
    "data-component",
    "x-mitre-data-component",
    "data-source",
    "x-mitre-data-source",
    "event",
    "external-reference",
    "feedback",
    "x-opencti-feedback",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "language",
    "location",
    "malware",
    "malware-analysis",
    "marking-definition",
    "narrative",
    "note",
    "observed-data",
    "opinion",
    "report",
    "task",
    "x-opencti-task",
    "threat-actor",
    "tool",
    "vulnerability",
    "security-coverage",
    "security-coverage-result",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "email-mime-part-type",
    "artifact",
    "file",
    "x509-certificate",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "windows-registry-value-type",
    "hostname",
    "cryptographic-key",
    "cryptocurrency-wallet",
    "text",
    "user-agent",
    "bank-account",
    "phone-number",
    "credential",
    "tracking-number",
    "payment-card",
    "media-content",
    "simple-observable",
    "persona",
    "ssh-key",
    "ai-prompt",
    "imei",
    "iccid",
    "imsi",
    "relationship",
    "sighting",
    "pir",
];

/// Whether the splitter keeps objects of this type (pycti's `supported_types`).
pub fn is_supported_type(t: &str) -> bool {
    STIX_TYPES.contains(&t) || INTERNAL_OBJECT_TYPES.contains(&t)
}

/// Whether the splitter keeps an id: ids of a supported type, and anything without `--`.
pub fn is_id_supported(id: &str) -> bool {
    match id.split_once("--") {
        Some((prefix, _)) => is_supported_type(prefix),
        None => true,
    }
}
