//! What one resolver sees of the knowledge: the state under the read lock, the caller and
//! its clearance, and the schema as data.
//!
//! Every read goes through [`View::get`], which answers only what the caller may see (an
//! object marked with a marking the caller's groups lack does not exist for it), so
//! readers answer `null`, lists leave the object out and references to it disappear.

use std::sync::Arc;

use async_graphql::dynamic::ResolverContext;
use async_graphql::{Error, Name, Value};
use serde_json::Value as Json;

use crate::graphql::sdl::TypeInfo;
use crate::graphql::context::parts;
use crate::graphql::knowledge::project;
use crate::graphql::knowledge::types::graphql_type;
use crate::store::State;
use crate::store::access::Clearance;
use crate::store::knowledge::{Knowledge, StoredObject};
use crate::store::users::User;

/// What every knowledge resolver shares: the schema as data.
#[derive(Debug)]
pub struct Api {
    /// The merged schema.
    pub info: TypeInfo,
}

/// The knowledge as one caller sees it, for the duration of one read.
pub struct View<'a> {
    /// The platform state (read-locked).
    pub state: &'a State,
    /// The schema as data.
    pub api: &'a Api,
    /// The knowledge read: the main one, or the draft's the request runs in.
    knowledge: &'a Knowledge,
    clearance: Clearance,
}

impl<'a> View<'a> {
    /// The view of `user` inside a draft (`opencti-draft-id`); the main knowledge when the
    /// draft does not exist.
    pub fn in_draft(state: &'a State, api: &'a Api, user: &'a User, draft_id: Option<&str>) -> Self {
        let knowledge = state.knowledge_in(draft_id);
        View { state, api, knowledge, clearance: Clearance::of(user, knowledge) }
    }

    /// The knowledge store.
    pub fn knowledge(&self) -> &'a Knowledge {
        self.knowledge
    }

    /// Whether the caller may see `obj`.
    pub fn visible(&self, obj: &StoredObject) -> bool {
        self.clearance.can_see(self.knowledge, obj)
    }

    /// An object the caller may see, by internal id, standard id or any STIX id.
    pub fn get(&self, id: &str) -> Option<&'a StoredObject> {
        self.knowledge.get(id).filter(|o| self.visible(o))
    }

    /// An object the caller may see whose GraphQL type fits `declared` (a type, an
    /// interface it implements or a union it belongs to).
    pub fn get_as(&self, id: &str, declared: &str) -> Option<&'a StoredObject> {
        self.get(id).filter(|o| self.fits(o, declared))
    }

    /// Whether `obj` can stand where `declared` is expected.
    pub fn fits(&self, obj: &StoredObject, declared: &str) -> bool {
        let ty = graphql_type(obj);
        self.api.info.objects.contains_key(&ty) && self.api.info.fits(&ty, declared)
    }

    /// The GraphQL object of `obj`.
    pub fn project(&self, obj: &StoredObject) -> Json {
        project::project(self, obj, obj.json())
    }

    /// The GraphQL object of `obj`, from its already parsed body.
    pub fn project_body(&self, obj: &StoredObject, body: Json) -> Json {
        project::project(self, obj, body)
    }

    /// The name of a user, for `creators`.
    pub fn user_name(&self, id: &str) -> Option<&'a str> {
        self.state.users.by_id(id).map(|u| u.name.as_str())
    }
}

/// Runs `f` on the caller's view of the knowledge (under the read lock; `f` must not
/// await).
pub fn with_view<R>(ctx: &ResolverContext<'_>, api: &Api, f: impl FnOnce(&View<'_>) -> Result<R, Error>) -> Result<R, Error> {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    core.store.read(|s| f(&View::in_draft(s, api, user, caller.draft_id.as_deref())))
}

/// The shared part of every handler.
pub type Shared = Arc<Api>;

/// An argument as JSON (`null` when absent).
pub fn arg(ctx: &ResolverContext<'_>, name: &str) -> Json {
    ctx.args.get(name).and_then(|v| v.as_value().clone().into_json().ok()).unwrap_or(Json::Null)
}

/// A string argument.
pub fn arg_str(ctx: &ResolverContext<'_>, name: &str) -> Option<String> {
    ctx.args.get(name).and_then(|v| v.string().ok().map(str::to_string))
}

/// A list-of-strings argument (a single string counts as a list of one).
pub fn arg_strs(ctx: &ResolverContext<'_>, name: &str) -> Vec<String> {
    match arg(ctx, name) {
        Json::Array(items) => items.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        Json::String(s) => vec![s],
        _ => Vec::new(),
    }
}

/// A key of the parent value (the object whose field is being resolved).
pub fn parent(ctx: &ResolverContext<'_>, key: &str) -> Json {
    match ctx.parent_value.as_value() {
        Some(Value::Object(map)) => map.get(&Name::new(key)).and_then(|v| v.clone().into_json().ok()).unwrap_or(Json::Null),
        _ => Json::Null,
    }
}

/// A string key of the parent value.
pub fn parent_str(ctx: &ResolverContext<'_>, key: &str) -> Option<String> {
    match ctx.parent_value.as_value() {
        Some(Value::Object(map)) => match map.get(&Name::new(key)) {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The strings of a JSON value that is a string or a list of strings.
pub fn strings(v: &Json) -> Vec<String> {
    match v {
        Json::String(s) => vec![s.clone()],
        Json::Array(items) => items.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

