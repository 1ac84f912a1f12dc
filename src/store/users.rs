//! Users, their tokens, and the capabilities that gate every operation.
//!
//! The platform resolves `Authorization: Bearer <token>` to a user; an unknown token and
//! no token are indistinguishable (the request proceeds unauthenticated and every
//! `@auth` field answers `AUTH_REQUIRED`). Two kinds of users exist here, as created by
//! the platform's data initialisation: the `admin` user (BYPASS, fixed id) and connector
//! users, members of the "Connectors" group whose "Connector" role carries the
//! capabilities listed in [`CONNECTOR_ROLE_CAPABILITIES`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// The platform's fixed administrator id (`OPENCTI_ADMIN_UUID`).
pub const ADMIN_USER_ID: &str = "88ec0c6a-13ce-5e39-b486-354fe4a7084f";

/// Capabilities of the platform's default "Connector" role (data-initialization.js).
pub const CONNECTOR_ROLE_CAPABILITIES: &[&str] = &[
    "KNOWLEDGE_KNUPDATE_KNDELETE",
    "KNOWLEDGE_KNUPDATE_KNMERGE",
    "KNOWLEDGE_KNUPDATE_KNBYPASSFIELDS",
    "KNOWLEDGE_KNUPLOAD",
    "KNOWLEDGE_KNASKIMPORT",
    "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT",
    "KNOWLEDGE_KNENRICHMENT",
    "CONNECTORAPI",
    "KNOWLEDGE_KNUPDATE_KNBYPASSREFERENCE",
    "MODULES_MODMANAGE",
    "TAXIIAPI",
    "INGESTION",
    "SETTINGS_SETMARKINGS",
    "SETTINGS_SETLABELS",
    "SETTINGS_SETVOCABULARIES",
    "SETTINGS_SETKILLCHAINPHASES",
];

/// The capability that passes every check.
pub const BYPASS: &str = "BYPASS";

/// A user of the platform.
#[derive(Debug, Clone, Serialize)]
pub struct User {
    /// Internal id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// E-mail (the platform's login).
    pub user_email: String,
    /// Group names.
    pub groups: Vec<String>,
    /// Role names.
    pub roles: Vec<String>,
    /// Capability names granted through the roles.
    pub capabilities: Vec<String>,
    /// API tokens.
    pub api_tokens: Vec<ApiToken>,
    /// Creation date.
    pub created_at: DateTime<Utc>,
    /// The markings the user's groups allow (any id of a marking definition), `None` when
    /// the user is not limited (see [`crate::store::access`]).
    pub allowed_markings: Option<Vec<String>>,
}

/// One API token of a user.
#[derive(Debug, Clone, Serialize)]
pub struct ApiToken {
    /// Token id.
    pub id: String,
    /// Token name.
    pub name: String,
    /// The secret itself.
    pub token: String,
    /// Revoked tokens authenticate nobody.
    pub revoked: bool,
}

impl User {
    /// Whether the user holds `BYPASS`.
    pub fn is_bypass(&self) -> bool {
        self.id == ADMIN_USER_ID || self.capabilities.iter().any(|c| c == BYPASS)
    }

    /// The platform's `isUserHasCapability`: BYPASS, or exactly this capability.
    pub fn has_capability(&self, capability: &str) -> bool {
        self.is_bypass() || self.capabilities.iter().any(|c| c == capability)
    }

    /// The platform's `@auth(for: [...])` rule: BYPASS passes; otherwise one required
    /// capability must be a substring of one of the user's capabilities
    /// (`MODULES_MODMANAGE` satisfies `MODULES`). An empty list only needs a user.
    pub fn has_any_capability(&self, required: &[&str]) -> bool {
        if self.is_bypass() || required.is_empty() {
            return true;
        }
        required.iter().any(|req| self.capabilities.iter().any(|c| c.contains(req)))
    }
}

/// All users of a platform.
#[derive(Debug)]
pub struct Users {
    users: Vec<User>,
}

impl Users {
    /// The user table with the administrator holding `admin_token`.
    pub fn new(admin_token: &str, now: DateTime<Utc>) -> Self {
        let admin = User {
            id: ADMIN_USER_ID.to_string(),
            name: "admin".to_string(),
            user_email: "admin@opencti.io".to_string(),
            groups: vec!["Administrators".to_string()],
            roles: vec!["Administrator".to_string()],
            capabilities: vec![BYPASS.to_string()],
            api_tokens: vec![ApiToken {
                id: Uuid::new_v4().to_string(),
                name: "Default".to_string(),
                token: admin_token.to_string(),
                revoked: false,
            }],
            created_at: now,
            allowed_markings: None,
        };
        Users { users: vec![admin] }
    }

    /// The user a non-revoked token belongs to.
    pub fn by_token(&self, token: &str) -> Option<&User> {
        self.users.iter().find(|u| u.api_tokens.iter().any(|t| !t.revoked && t.token == token))
    }

    /// A user by internal id.
    pub fn by_id(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    /// Every user.
    pub fn all(&self) -> &[User] {
        &self.users
    }

    /// The administrator.
    pub fn admin(&self) -> &User {
        self.by_id(ADMIN_USER_ID).expect("the admin user is created with the store and never removed")
    }

    /// The user holding `token`, revoked or not: a token names one user for ever, so a new
    /// user may not take it (the platform's tokens are unique by construction).
    pub fn token_holder(&self, token: &str) -> Option<&User> {
        self.users.iter().find(|u| u.api_tokens.iter().any(|t| t.token == token))
    }

    /// Creates (or returns, by name) a connector user in the "Connectors" group with the
    /// "Connector" role. `token` defaults to a fresh UUID; an existing user with the same
    /// name gets the token added.
    pub fn add_connector_user(&mut self, name: &str, token: Option<&str>, now: DateTime<Utc>) -> (User, String) {
        let token = token.map(str::to_string).unwrap_or_else(|| Uuid::new_v4().to_string());
        let api_token = ApiToken { id: Uuid::new_v4().to_string(), name: "Default".into(), token: token.clone(), revoked: false };
        if let Some(u) = self.users.iter_mut().find(|u| u.name == name) {
            u.api_tokens.push(api_token);
            return (u.clone(), token);
        }
        let email_local: String = name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let user = User {
            id: Uuid::new_v4().to_string(),
            name: name.to_string(),
            user_email: format!("{email_local}@connector.octi.filigran.io"),
            groups: vec!["Connectors".to_string()],
            roles: vec!["Connector".to_string()],
            capabilities: CONNECTOR_ROLE_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            api_tokens: vec![api_token],
            created_at: now,
            allowed_markings: None,
        };
        self.users.push(user.clone());
        (user, token)
    }

    /// Creates a user with explicit capabilities (for role tests: a user lacking a capability
    /// gets `FORBIDDEN_ACCESS` where the platform would refuse it).
    pub fn add_user(&mut self, name: &str, token: Option<&str>, capabilities: &[&str], now: DateTime<Utc>) -> (User, String) {
        let token = token.map(str::to_string).unwrap_or_else(|| Uuid::new_v4().to_string());
        let user = User {
            id: Uuid::new_v4().to_string(),
            name: name.to_string(),
            user_email: format!("{}@opencti.invalid", name.to_lowercase().replace(' ', "-")),
            groups: Vec::new(),
            roles: vec![format!("{name} role")],
            capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
            api_tokens: vec![ApiToken {
                id: Uuid::new_v4().to_string(),
                name: "Default".into(),
                token: token.clone(),
                revoked: false,
            }],
            created_at: now,
            allowed_markings: None,
        };
        self.users.push(user.clone());
        (user, token)
    }

    /// Limits a user to markings (any id of each allowed marking definition); `None` lifts
    /// the limit. Returns whether the user exists.
    pub fn set_allowed_markings(&mut self, user_id: &str, markings: Option<Vec<String>>) -> bool {
        match self.users.iter_mut().find(|u| u.id == user_id) {
            Some(u) => {
                u.allowed_markings = markings;
                true
            }
            None => false,
        }
    }

    /// Revokes a token. Returns whether it existed.
    pub fn revoke_token(&mut self, token: &str) -> bool {
        let mut found = false;
        for t in self.users.iter_mut().flat_map(|u| u.api_tokens.iter_mut()) {
            if t.token == token {
                t.revoked = true;
                found = true;
            }
        }
        found
    }
}
