//! Users, their tokens, and the capabilities that gate every operation.
//!
//! The platform resolves `Authorization: Bearer <token>` to a user; an unknown token and
//! no token are indistinguishable (the request proceeds unauthenticated and every
//! `@auth` field answers `AUTH_REQUIRED`). Two kinds of users exist here, as created by
//! the platform's data initialisation: the `admin` user (BYPASS, fixed id) and connector
//! users, members of the "Connectors" group whose "Connector" role carries the
//! capabilities listed in [`CONNECTOR_ROLE_CAPABILITIES`].
//!
//! Users created through the GraphQL API (`userAdd`) are *derived* users: their groups,
//! roles, capabilities and allowed markings are computed from their group memberships
//! ([`crate::store::groups`]) every time a user, group or role changes, so a token of such
//! a user authenticates with exactly what its groups grant. The install's users (the
//! administrator, connector users, users of the control API) keep the capabilities and
//! marking limits they were given (a limit is per user there, not per group), and are
//! listed as members of the install's groups.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::store::groups::{Group, Role};

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
    /// Ids of the groups the user is a member of.
    pub group_ids: Vec<String>,
    /// Whether `groups`, `roles`, `capabilities` and `allowed_markings` are computed from
    /// `group_ids` (users created through the API).
    pub derived: bool,
    /// Ids of the organizations the user belongs to.
    pub organization_ids: Vec<String>,
    /// The other attributes set through the API (`firstname`, `language`, `account_status`...).
    pub profile: Map<String, Value>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
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
    /// Creation date (`None` for the install's tokens).
    pub created_at: Option<DateTime<Utc>>,
}

impl ApiToken {
    /// A new token named `name` holding `token`.
    pub fn new(name: &str, token: String, now: Option<DateTime<Utc>>) -> ApiToken {
        ApiToken { id: Uuid::new_v4().to_string(), name: name.to_string(), token, revoked: false, created_at: now }
    }
}

/// What a user creation through the API gives (`UserAddInput`).
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    /// Name.
    pub name: String,
    /// E-mail (stored in lower case, unique).
    pub user_email: String,
    /// Group ids.
    pub groups: Vec<String>,
    /// Organization ids.
    pub organizations: Vec<String>,
    /// Do not add the groups marked `default_assignation`.
    pub prevent_default_groups: bool,
    /// Other attributes.
    pub profile: Map<String, Value>,
    /// Give the user a first token (the 6.x platform does; 7.x users get tokens with
    /// `userAdminTokenAdd`).
    pub with_token: bool,
}

/// Why an administration change is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// Another user has this e-mail.
    #[error("User already exists")]
    DuplicateEmail(String),
    /// An id names nothing of the expected kind.
    #[error("{0} not found: {1}")]
    Missing(&'static str, String),
    /// The install's administrator cannot be removed.
    #[error("Cannot delete the platform administrator")]
    Admin,
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

/// All users of a platform, with the groups and roles their rights come from.
#[derive(Debug)]
pub struct Users {
    users: Vec<User>,
    groups: Vec<Group>,
    roles: Vec<Role>,
}

/// The install's group of administrators and of connector users (`data-initialization.js`).
pub const ADMINISTRATORS: &str = "Administrators";
/// The install's group of connector users.
pub const CONNECTORS: &str = "Connectors";

impl Users {
    /// The user table with the administrator holding `admin_token`.
    pub fn new(admin_token: &str, now: DateTime<Utc>) -> Self {
        let mut admin_role = Role::new("Administrator", Some("Administrator role that bypass every capabilities".into()), now);
        admin_role.capabilities = vec![BYPASS.to_string()];
        let mut connector_role = Role::new("Connector", Some("Connector role that has the recommended capabilities".into()), now);
        connector_role.capabilities = CONNECTOR_ROLE_CAPABILITIES.iter().map(|c| c.to_string()).collect();
        let mut administrators = Group::new(ADMINISTRATORS, now);
        administrators.roles = vec![admin_role.id.clone()];
        administrators.allowed_markings = None;
        let mut connectors = Group::new(CONNECTORS, now);
        connectors.roles = vec![connector_role.id.clone()];
        connectors.allowed_markings = None;
        let admin = User {
            id: ADMIN_USER_ID.to_string(),
            name: "admin".to_string(),
            user_email: "admin@opencti.io".to_string(),
            groups: vec!["Administrators".to_string()],
            roles: vec!["Administrator".to_string()],
            capabilities: vec![BYPASS.to_string()],
            api_tokens: vec![ApiToken::new("Default", admin_token.to_string(), None)],
            created_at: now,
            allowed_markings: None,
            group_ids: vec![administrators.id.clone()],
            derived: false,
            organization_ids: Vec::new(),
            profile: Map::new(),
            updated_at: now,
        };
        Users { users: vec![admin], groups: vec![administrators, connectors], roles: vec![admin_role, connector_role] }
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
        let api_token = ApiToken::new("Default", token.clone(), None);
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
            group_ids: self.group_named(CONNECTORS).map(|g| g.id.clone()).into_iter().collect(),
            derived: false,
            organization_ids: Vec::new(),
            profile: Map::new(),
            updated_at: now,
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
            api_tokens: vec![ApiToken::new("Default", token.clone(), None)],
            created_at: now,
            allowed_markings: None,
            group_ids: Vec::new(),
            derived: false,
            organization_ids: Vec::new(),
            profile: Map::new(),
            updated_at: now,
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

    /// Every group.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// Every role.
    pub fn roles(&self) -> &[Role] {
        &self.roles
    }

    /// A group by internal id or standard id (`group--<id>`).
    pub fn group(&self, id: &str) -> Option<&Group> {
        let id = id.strip_prefix("group--").unwrap_or(id);
        self.groups.iter().find(|g| g.id == id)
    }

    /// A group by name.
    pub fn group_named(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// A role by internal id or standard id (`role--<id>`).
    pub fn role(&self, id: &str) -> Option<&Role> {
        let id = id.strip_prefix("role--").unwrap_or(id);
        self.roles.iter().find(|r| r.id == id)
    }

    /// A user by internal id or standard id (`user--<id>`).
    pub fn user(&self, id: &str) -> Option<&User> {
        self.by_id(id.strip_prefix("user--").unwrap_or(id))
    }

    /// Creates a user through the API (`userAdd`): a derived user, member of the given
    /// groups and, unless `prevent_default_groups`, of the groups marked
    /// `default_assignation`. Refuses an e-mail another user has and unknown groups.
    pub fn create(&mut self, input: NewUser, now: DateTime<Utc>) -> Result<User, AdminError> {
        let email = input.user_email.to_lowercase();
        if self.users.iter().any(|u| u.user_email.to_lowercase() == email) {
            return Err(AdminError::DuplicateEmail(email));
        }
        let mut group_ids = Vec::new();
        for id in &input.groups {
            let g = self.group(id).ok_or_else(|| AdminError::Missing("Group", id.clone()))?;
            group_ids.push(g.id.clone());
        }
        if !input.prevent_default_groups {
            group_ids.extend(self.groups.iter().filter(|g| g.default_assignation).map(|g| g.id.clone()));
        }
        group_ids.dedup();
        let api_tokens =
            if input.with_token { vec![ApiToken::new("Default", Uuid::new_v4().to_string(), Some(now))] } else { Vec::new() };
        let user = User {
            id: Uuid::new_v4().to_string(),
            name: input.name,
            user_email: email,
            groups: Vec::new(),
            roles: Vec::new(),
            capabilities: Vec::new(),
            api_tokens,
            created_at: now,
            allowed_markings: Some(Vec::new()),
            group_ids,
            derived: true,
            organization_ids: input.organizations,
            profile: input.profile,
            updated_at: now,
        };
        let id = user.id.clone();
        self.users.push(user);
        self.refresh();
        Ok(self.by_id(&id).cloned().expect("the user was just added"))
    }

    /// Changes a user (`f` may change any attribute but its id), then recomputes the
    /// derived rights. `None` when no user has this id.
    pub fn edit_user<T>(&mut self, id: &str, now: DateTime<Utc>, f: impl FnOnce(&mut User) -> T) -> Option<T> {
        let id = id.strip_prefix("user--").unwrap_or(id);
        let user = self.users.iter_mut().find(|u| u.id == id)?;
        let out = f(user);
        user.updated_at = now;
        self.refresh();
        Some(out)
    }

    /// Removes a user (not the administrator). Returns its id.
    pub fn delete_user(&mut self, id: &str) -> Result<String, AdminError> {
        let user = self.user(id).ok_or_else(|| AdminError::Missing("User", id.to_string()))?;
        if user.id == ADMIN_USER_ID {
            return Err(AdminError::Admin);
        }
        let id = user.id.clone();
        self.users.retain(|u| u.id != id);
        Ok(id)
    }

    /// Adds a group (`groupAdd`).
    pub fn add_group(&mut self, group: Group) -> Group {
        self.groups.push(group.clone());
        group
    }

    /// Changes a group, then recomputes its members' rights. `None` when unknown.
    pub fn edit_group<T>(&mut self, id: &str, now: DateTime<Utc>, f: impl FnOnce(&mut Group) -> T) -> Option<T> {
        let id = id.strip_prefix("group--").unwrap_or(id);
        let group = self.groups.iter_mut().find(|g| g.id == id)?;
        let out = f(group);
        group.updated_at = now;
        self.refresh();
        Some(out)
    }

    /// Removes a group and its memberships. Returns its id.
    pub fn delete_group(&mut self, id: &str) -> Result<String, AdminError> {
        let id = self.group(id).ok_or_else(|| AdminError::Missing("Group", id.to_string()))?.id.clone();
        self.groups.retain(|g| g.id != id);
        for u in &mut self.users {
            u.group_ids.retain(|g| *g != id);
        }
        self.refresh();
        Ok(id)
    }

    /// Adds a role (`roleAdd`).
    pub fn add_role(&mut self, role: Role) -> Role {
        self.roles.push(role.clone());
        role
    }

    /// Changes a role, then recomputes the rights of the members of its groups.
    pub fn edit_role<T>(&mut self, id: &str, now: DateTime<Utc>, f: impl FnOnce(&mut Role) -> T) -> Option<T> {
        let id = id.strip_prefix("role--").unwrap_or(id);
        let role = self.roles.iter_mut().find(|r| r.id == id)?;
        let out = f(role);
        role.updated_at = now;
        self.refresh();
        Some(out)
    }

    /// Removes a role from the platform and from every group. Returns its id.
    pub fn delete_role(&mut self, id: &str) -> Result<String, AdminError> {
        let id = self.role(id).ok_or_else(|| AdminError::Missing("Role", id.to_string()))?.id.clone();
        self.roles.retain(|r| r.id != id);
        for g in &mut self.groups {
            g.roles.retain(|r| *r != id);
        }
        self.refresh();
        Ok(id)
    }

    /// Makes a user a member of a group (`member-of`); both must exist.
    pub fn join(&mut self, user_id: &str, group_id: &str, now: DateTime<Utc>) -> Result<(), AdminError> {
        let group = self.group(group_id).ok_or_else(|| AdminError::Missing("Group", group_id.to_string()))?.id.clone();
        self.edit_user(user_id, now, |u| {
            if !u.group_ids.contains(&group) {
                u.group_ids.push(group);
            }
        })
        .ok_or_else(|| AdminError::Missing("User", user_id.to_string()))
    }

    /// Ends a membership. Returns whether the user exists.
    pub fn leave(&mut self, user_id: &str, group_id: &str, now: DateTime<Utc>) -> Result<(), AdminError> {
        let group = self.group(group_id).map(|g| g.id.clone()).unwrap_or_else(|| group_id.to_string());
        self.edit_user(user_id, now, |u| u.group_ids.retain(|g| *g != group))
            .ok_or_else(|| AdminError::Missing("User", user_id.to_string()))
    }

    /// Adds a token to a user (`userAdminTokenAdd`): the token and its secret.
    pub fn add_token(&mut self, user_id: &str, name: &str, now: DateTime<Utc>) -> Option<ApiToken> {
        let token = ApiToken::new(name, Uuid::new_v4().to_string(), Some(now));
        self.edit_user(user_id, now, |u| {
            u.api_tokens.push(token.clone());
            token
        })
    }

    /// Revokes one token of a user by token id. Returns whether it existed.
    pub fn revoke_token_id(&mut self, user_id: &str, token_id: &str, now: DateTime<Utc>) -> bool {
        self.edit_user(user_id, now, |u| {
            let found = u.api_tokens.iter_mut().find(|t| t.id == token_id && !t.revoked);
            found.map(|t| t.revoked = true).is_some()
        })
        .unwrap_or(false)
    }

    /// Recomputes the rights of derived users from their groups and the groups' roles.
    fn refresh(&mut self) {
        let (groups, roles) = (&self.groups, &self.roles);
        for u in self.users.iter_mut().filter(|u| u.derived) {
            let mine: Vec<&Group> = groups.iter().filter(|g| u.group_ids.contains(&g.id)).collect();
            let my_roles: Vec<&Role> = roles.iter().filter(|r| mine.iter().any(|g| g.roles.contains(&r.id))).collect();
            u.groups = mine.iter().map(|g| g.name.clone()).collect();
            u.roles = my_roles.iter().map(|r| r.name.clone()).collect();
            let mut caps: Vec<String> = my_roles.iter().flat_map(|r| r.capabilities.iter().cloned()).collect();
            caps.sort();
            caps.dedup();
            u.capabilities = caps;
            u.allowed_markings = if mine.iter().any(|g| g.allowed_markings.is_none()) {
                None
            } else {
                let mut all: Vec<String> = mine.iter().flat_map(|g| g.allowed_markings.iter().flatten().cloned()).collect();
                all.dedup();
                Some(all)
            };
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

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use serde_json::Map;

    use super::*;

    fn reader_user(users: &mut Users, email: &str) -> (String, String, String) {
        let now = Utc::now();
        let mut role = Role::new("Reader", None, now);
        role.capabilities = vec!["KNOWLEDGE".into()];
        let role = users.add_role(role);
        let mut group = Group::new("Green readers", now);
        group.roles = vec![role.id.clone()];
        group.allowed_markings = Some(vec!["marking-definition--green".into()]);
        let group = users.add_group(group);
        let input = NewUser {
            name: "Analyst".into(),
            user_email: email.into(),
            groups: vec![group.id.clone()],
            organizations: vec![],
            prevent_default_groups: true,
            profile: Map::new(),
            with_token: false,
        };
        let user = users.create(input, now).expect("created");
        (user.id, group.id, role.id)
    }

    #[test]
    fn a_user_created_through_the_api_has_exactly_its_groups_rights() {
        let mut users = Users::new("admin-token", Utc::now());
        let (uid, gid, rid) = reader_user(&mut users, "Ada@Example.com");
        let u = users.by_id(&uid).unwrap();
        assert_eq!(u.user_email, "ada@example.com", "e-mails are kept in lower case");
        assert_eq!((u.groups.clone(), u.roles.clone(), u.capabilities.clone()), (vec!["Green readers".to_string()], vec!["Reader".to_string()], vec!["KNOWLEDGE".to_string()]));
        assert_eq!(u.allowed_markings, Some(vec!["marking-definition--green".to_string()]));
        assert!(u.has_any_capability(&["KNOWLEDGE"]) && !u.has_any_capability(&["SETTINGS_SETACCESSES"]) && !u.is_bypass());
        assert!(u.api_tokens.is_empty(), "7.x users get tokens with userAdminTokenAdd");

        // A role change reaches the members of its groups.
        users.edit_role(&rid, Utc::now(), |r| r.capabilities.push("KNOWLEDGE_KNUPDATE".into()));
        assert!(users.by_id(&uid).unwrap().has_capability("KNOWLEDGE_KNUPDATE"));
        // A token authenticates the user until it is revoked.
        let token = users.add_token(&uid, "t", Utc::now()).unwrap();
        assert_eq!(users.by_token(&token.token).map(|u| u.id.clone()), Some(uid.clone()));
        assert!(users.revoke_token_id(&uid, &token.id, Utc::now()));
        assert!(users.by_token(&token.token).is_none());
        // Leaving the group (or the group going) takes everything away.
        users.delete_group(&gid).unwrap();
        let u = users.by_id(&uid).unwrap();
        assert!(u.capabilities.is_empty() && u.groups.is_empty());
        assert_eq!(u.allowed_markings, Some(vec![]));
    }

    #[test]
    fn refusals_are_the_platforms() {
        let mut users = Users::new("admin-token", Utc::now());
        reader_user(&mut users, "ada@example.com");
        let twin = NewUser { name: "Twin".into(), user_email: "ADA@example.com".into(), ..NewUser::default() };
        assert_eq!(users.create(twin, Utc::now()).unwrap_err(), AdminError::DuplicateEmail("ada@example.com".into()));
        let lost = NewUser { name: "Lost".into(), user_email: "lost@example.com".into(), groups: vec!["nope".into()], ..NewUser::default() };
        assert!(matches!(users.create(lost, Utc::now()), Err(AdminError::Missing("Group", _))));
        assert_eq!(users.delete_user(ADMIN_USER_ID), Err(AdminError::Admin));
        // The install's users keep their own rights and are members of the install's groups.
        let (connector, _) = users.add_connector_user("c", None, Utc::now());
        assert_eq!(connector.group_ids, vec![users.group_named(CONNECTORS).unwrap().id.clone()]);
        assert!(connector.has_capability("CONNECTORAPI") && !connector.derived);
    }
}
