//! Draft workspaces (`validation_mode=draft`): what a connector pushes into a draft stays
//! there, apart from the main knowledge, until someone validates it (not modelled).
//!
//! A draft starts as a copy of the knowledge at its creation, so references to existing
//! objects resolve inside it; the objects written into it are listed in `touched`.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::knowledge::Knowledge;

/// A draft workspace.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// // drafts an import connector created (validation mode `draft`)
/// assert!(platform.drafts().is_empty());
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Draft {
    /// Its id (a UUID).
    pub id: String,
    /// Name (pycti: the imported file's id).
    pub name: String,
    /// The entity it is about, if any.
    pub entity_id: Option<String>,
    /// Creator (user id).
    pub created_by: String,
    /// Creation date.
    pub created_at: DateTime<Utc>,
    /// Standard ids of the objects written into the draft.
    pub touched: BTreeSet<String>,
    /// The draft's knowledge (not part of what the APIs show).
    #[serde(skip)]
    pub(crate) knowledge: Knowledge,
}

impl Draft {
    /// The draft without its knowledge (what the APIs show), without copying the knowledge.
    pub(crate) fn summary(&self) -> Draft {
        Draft {
            id: self.id.clone(),
            name: self.name.clone(),
            entity_id: self.entity_id.clone(),
            created_by: self.created_by.clone(),
            created_at: self.created_at,
            touched: self.touched.clone(),
            knowledge: Knowledge::default(),
        }
    }
}

/// Every draft of a platform.
#[derive(Debug, Default)]
pub struct Drafts {
    items: Vec<Draft>,
}

impl Drafts {
    /// Adds a draft.
    pub fn add(&mut self, draft: Draft) {
        self.items.push(draft);
    }

    /// A draft by id.
    pub fn get(&self, id: &str) -> Option<&Draft> {
        self.items.iter().find(|d| d.id == id)
    }

    /// A draft by id, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Draft> {
        self.items.iter_mut().find(|d| d.id == id)
    }

    /// Every draft, in creation order.
    pub fn all(&self) -> &[Draft] {
        &self.items
    }
}
