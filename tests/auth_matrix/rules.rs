//! The platform's access rules, written down by the test from the reference — never
//! asked of the mock — so that a cell's expectation is the platform's answer, not a
//! snapshot of what the mock answers today.
//!
//! Sources: `../shared/reference/platform-server.md` §11 (token to user, the `@auth`
//! directive, the Connector role), the platform's `authDirective.ts` (`and: true` needs
//! every capability; an empty `for` only needs a user; BYPASS or the admin passes), and its
//! `loadFile` rules as the README ("The platform surface") and `src/store/access.rs`
//! document them for `/storage/get/…`.

/// No user on the request (no, malformed or unknown token) at an `@auth` field.
pub const AUTH_REQUIRED: &str = "AUTH_REQUIRED";
/// A user without the field's capability.
pub const FORBIDDEN_ACCESS: &str = "FORBIDDEN_ACCESS";
/// The capability that passes every check.
pub const BYPASS: &str = "BYPASS";

/// The platform's default "Connector" role (`data-initialization.js`, reference §11).
pub const CONNECTOR_ROLE: &[&str] = &[
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

/// TLP:CLEAR as the platform stores it (the TLP 1.0 WHITE id).
pub const TLP_CLEAR: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
/// TLP:RED as the platform stores it.
pub const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

/// What `@auth` asks of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auth {
    /// `for: [...]`; empty = any user.
    pub capabilities: Vec<String>,
    /// `and: true`: every capability, not one of them.
    pub all: bool,
}

/// Which markings a user may see.
#[derive(Debug, Clone)]
pub enum Markings {
    /// No limit.
    All,
    /// Only these marking definitions (STIX ids).
    Only(Vec<&'static str>),
}

/// Who the platform thinks is calling.
#[derive(Debug, Clone)]
pub enum Identity {
    /// No user: no token, a malformed header or an unknown token are indistinguishable.
    Nobody,
    /// A user with these capabilities and marking limit.
    User { capabilities: Vec<&'static str>, markings: Markings },
}

impl Identity {
    /// A user with the Connector role.
    pub fn connector(markings: Markings) -> Identity {
        Identity::User { capabilities: CONNECTOR_ROLE.to_vec(), markings }
    }

    /// The administrator.
    pub fn admin() -> Identity {
        Identity::User { capabilities: vec![BYPASS], markings: Markings::All }
    }

    /// Whether a user holds BYPASS.
    pub fn is_bypass(&self) -> bool {
        matches!(self, Identity::User { capabilities, .. } if capabilities.contains(&BYPASS))
    }

    /// The platform's capability match (`@auth` and 7.x `isUserHasCapability`): BYPASS,
    /// or one of the user's capabilities *contains* the required one
    /// (`MODULES_MODMANAGE` satisfies `MODULES`).
    pub fn has(&self, required: &str) -> bool {
        match self {
            Identity::Nobody => false,
            Identity::User { capabilities, .. } => self.is_bypass() || capabilities.iter().any(|c| c.contains(required)),
        }
    }

    /// Whether the user may see data carrying every one of `markings` (a BYPASS user
    /// sees every marking).
    pub fn may_see(&self, markings: &[&str]) -> bool {
        match self {
            Identity::Nobody => false,
            _ if self.is_bypass() => true,
            Identity::User { markings: Markings::All, .. } => true,
            Identity::User { markings: Markings::Only(allowed), .. } => markings.iter().all(|m| allowed.contains(m)),
        }
    }
}

/// A caller of the matrix: how it authenticates and who the platform takes it for.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Short name for the summary.
    pub label: &'static str,
    /// The `Authorization` header sent, if any.
    pub authorization: Option<String>,
    /// Who the platform's rules say this is.
    pub identity: Identity,
}

/// What a GraphQL cell must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// Neither `AUTH_REQUIRED` nor `FORBIDDEN_ACCESS` (other errors are the resolver's).
    Through,
    /// Every error carries this code, and the field has no data.
    Refused(&'static str),
    /// Introspection for nobody: the platform's message, no data.
    IntrospectionRefused,
}

/// The `@auth` directive (`authDirective.ts`): no user → `AUTH_REQUIRED`; an empty `for`
/// only needs a user; BYPASS passes; otherwise one required capability (every one with
/// `and: true`) must be contained in one of the user's → else `FORBIDDEN_ACCESS`. A field
/// without `@auth` is never refused by it.
pub fn directive(auth: Option<&Auth>, who: &Identity) -> Expected {
    let Some(auth) = auth else { return Expected::Through };
    if matches!(who, Identity::Nobody) {
        return Expected::Refused(AUTH_REQUIRED);
    }
    let granted = who.is_bypass()
        || auth.capabilities.is_empty()
        || if auth.all { auth.capabilities.iter().all(|c| who.has(c)) } else { auth.capabilities.iter().any(|c| who.has(c)) };
    if granted { Expected::Through } else { Expected::Refused(FORBIDDEN_ACCESS) }
}

/// A path of fields (`stixCoreObjectEdit` then `delete`): graphql-js resolves the parent
/// first, so the first directive that refuses decides; a refused parent is never entered.
pub fn graphql_path(auths: &[Option<Auth>], who: &Identity) -> Expected {
    auths.iter().map(|a| directive(a.as_ref(), who)).find(|e| *e != Expected::Through).unwrap_or(Expected::Through)
}

/// `__schema` / `__type`: answered to users, refused to nobody (README "The platform
/// surface": introspection works for authenticated users unless disabled).
pub fn introspection(who: &Identity) -> Expected {
    match who {
        Identity::Nobody => Expected::IntrospectionRefused,
        Identity::User { .. } => Expected::Through,
    }
}

/// What a control route (`/_mock/…`) must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlExpected {
    /// `200` (health, to everyone).
    Ok,
    /// `401 {"status":"error",…}` before anything else.
    Unauthorized,
    /// Anything but `401` (and the route exists: not the router's 404 nor a 405).
    Admitted,
}

/// The control API's rule (README "Control API"): `health` is open; every other route
/// needs the admin token.
pub fn control_route(is_health: bool, who: &Identity) -> ControlExpected {
    match (is_health, who.is_bypass()) {
        (true, _) => ControlExpected::Ok,
        (false, true) => ControlExpected::Admitted,
        (false, false) => ControlExpected::Unauthorized,
    }
}

/// What the test knows of a stored file (it stored it).
#[derive(Debug, Clone)]
pub struct FileFacts {
    /// Short name for the summary.
    pub label: &'static str,
    /// The storage path (`import/global/feed.json`).
    pub path: String,
    /// Whether the file was stored at all.
    pub exists: bool,
    /// The file's own markings.
    pub markings: Vec<&'static str>,
    /// The markings of the entity the file is attached to, if it is.
    pub entity_markings: Option<Vec<&'static str>>,
}

/// `GET /storage/get/<id>` by the platform's `loadFile` rules: no user → 403; a file that
/// does not exist or that the user may not read → 503; else 200. Reading needs, by path,
/// a KNOWLEDGE capability for `import/`, `embedded/`, `export/`, `fromTemplate/`,
/// KNOWLEDGE_KNASKIMPORT for `import/global`, SETTINGS_SUPPORT for `support/`; every
/// marking of the file; for an entity's file, KNOWLEDGE and an entity the user can see.
pub fn storage(file: &FileFacts, who: &Identity) -> u16 {
    if matches!(who, Identity::Nobody) {
        return 403;
    }
    let path = file.path.as_str();
    // The capability each path prefix asks for.
    let by_path = [
        ("support/", "SETTINGS_SUPPORT"),
        ("import/", "KNOWLEDGE"),
        ("embedded/", "KNOWLEDGE"),
        ("export/", "KNOWLEDGE"),
        ("fromTemplate/", "KNOWLEDGE"),
        ("import/global", "KNOWLEDGE_KNASKIMPORT"),
    ];
    let readable = file.exists
        && by_path.iter().all(|(prefix, capability)| !path.starts_with(prefix) || who.has(capability))
        && who.may_see(&file.markings)
        && file.entity_markings.as_ref().is_none_or(|m| who.has("KNOWLEDGE") && who.may_see(m));
    if readable { 200 } else { 503 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(caps: &[&str], all: bool) -> Auth {
        Auth { capabilities: caps.iter().map(|c| c.to_string()).collect(), all }
    }

    #[test]
    fn the_directive_matches_capabilities_by_substring_and_bypass_passes() {
        let connector = Identity::connector(Markings::All);
        let nobody_caps = Identity::User { capabilities: vec![], markings: Markings::All };
        assert_eq!(directive(Some(&auth(&["MODULES"], false)), &connector), Expected::Through);
        assert_eq!(directive(Some(&auth(&["KNOWLEDGE"], false)), &connector), Expected::Through);
        assert_eq!(directive(Some(&auth(&["SETTINGS_SETACCESSES"], false)), &connector), Expected::Refused(FORBIDDEN_ACCESS));
        assert_eq!(directive(Some(&auth(&["CONNECTORAPI", "EXPLORE"], true)), &connector), Expected::Refused(FORBIDDEN_ACCESS));
        assert_eq!(directive(Some(&auth(&[], false)), &nobody_caps), Expected::Through);
        assert_eq!(directive(Some(&auth(&["MODULES"], false)), &nobody_caps), Expected::Refused(FORBIDDEN_ACCESS));
        assert_eq!(directive(Some(&auth(&["EXPLORE"], false)), &Identity::admin()), Expected::Through);
        assert_eq!(directive(Some(&auth(&[], false)), &Identity::Nobody), Expected::Refused(AUTH_REQUIRED));
        assert_eq!(directive(None, &Identity::Nobody), Expected::Through);
        // The parent's refusal comes first; a child's capability is checked once inside.
        let edit = [Some(auth(&[], false)), Some(auth(&["KNOWLEDGE_KNUPDATE_KNDELETE"], false))];
        assert_eq!(graphql_path(&edit, &Identity::Nobody), Expected::Refused(AUTH_REQUIRED));
        assert_eq!(graphql_path(&edit, &nobody_caps), Expected::Refused(FORBIDDEN_ACCESS));
        assert_eq!(graphql_path(&edit, &connector), Expected::Through);
        assert_eq!(graphql_path(&[None, None], &Identity::Nobody), Expected::Through);
    }
}
