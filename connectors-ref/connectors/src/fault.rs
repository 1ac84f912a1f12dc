//! The one fault a reference connector may carry: `REFERENCE_FAULT=<check id>`.
//!
//! Each check of the conformance suites has a realistic mistake in one of the reference
//! connectors that breaks exactly its requirement (`tests/negative_controls.rs` proves it
//! for every check). The switch is read here and nowhere else; the platform and the gate
//! never see it — they judge what the connector does on the wire.

/// The fault switched on for this process, if any.
#[derive(Debug, Clone, Default)]
pub struct Fault(Option<String>);

impl Fault {
    /// The environment variable that switches a fault on.
    pub const VARIABLE: &'static str = "REFERENCE_FAULT";

    /// The fault of this process (`REFERENCE_FAULT`).
    pub fn from_env() -> Fault {
        Fault(std::env::var(Self::VARIABLE).ok().filter(|v| !v.is_empty()))
    }

    /// No fault.
    pub fn none() -> Fault {
        Fault(None)
    }

    /// Whether the fault that breaks check `id` is on.
    pub fn is(&self, id: &str) -> bool {
        self.0.as_deref() == Some(id)
    }

    /// The fault's check id.
    pub fn id(&self) -> Option<&str> {
        self.0.as_deref()
    }
}
