//! What a GraphQL document must respect before anything walks it: no request — with or
//! without a token — may cost more than its size suggests.
//!
//! The platform runs graphql-js behind Apollo: validation rejects fragment cycles
//! (`NoFragmentCyclesRule`), `graphql-no-alias` limits how often a root field appears in a
//! document (`app:graphql:batching_protection`: a query field twice, `subTypes` four
//! times, a mutation field once), and execution collects each fragment once per selection
//! set, so `fragment F1 on Query { ...F2 ...F2 }` costs nothing extra. async-graphql, which
//! executes the mock's documents, neither merges repeated spreads nor guards its own
//! inlining visitors against cycles: a self-spreading fragment overflows the stack, and k
//! nested doubled spreads execute 2^k fields. So every document passes [`check`] first,
//! in linear time and without recursion over fragments:
//!
//! - the source text is scanned for its bracket nesting before the parser (a recursive
//!   descent parser) sees it ([`DocumentLimits::max_nesting`]);
//! - fragment cycles are refused with graphql-js's message;
//! - root fields over the platform's batching limits are refused with `graphql-no-alias`'s
//!   message;
//! - the number of fields the executor would resolve once every spread is expanded, and
//!   the depth it would reach, are computed per fragment (each fragment once) and refused
//!   over [`DocumentLimits::max_fields`] and [`DocumentLimits::max_depth`]. The platform
//!   has no such limits (graphql-armor is off by default): they are the mock's, set far
//!   above what any document pycti 7.261026.0 sends (`tests/pycti_coverage.rs` checks it).
//!
//! Every refusal is a validation error (`GRAPHQL_VALIDATION_FAILED`, HTTP 200), as the
//! platform answers the ones it has.

use std::collections::HashMap;

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet, TypeCondition};
use async_graphql::{Name, Positioned, Request, ServerError, ServerResult};

/// The limits a document is checked against: the platform's batching protection
/// (`app:graphql:batching_protection`) and the mock's own (`mock:graphql_limits`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentLimits {
    /// Deepest bracket nesting (`{`, `[`, `(`) of the source text (the parser is recursive).
    pub max_nesting: usize,
    /// Most fields one operation may resolve with every fragment spread expanded.
    pub max_fields: u64,
    /// Deepest field nesting of one operation with every fragment spread expanded.
    pub max_depth: u64,
    /// How often a `Query` field may appear in a document.
    pub query_calls: u32,
    /// How often `Query.subTypes` may appear.
    pub query_subtypes_calls: u32,
    /// How often a `Mutation` field may appear.
    pub mutation_calls: u32,
}

impl DocumentLimits {
    /// The limits of a platform's settings.
    pub fn of(settings: &crate::config::Settings) -> Self {
        let batching = settings.app.graphql.batching_protection;
        let own = settings.mock.graphql_limits;
        DocumentLimits {
            max_nesting: own.max_nesting,
            max_fields: own.max_fields,
            max_depth: own.max_depth,
            query_calls: batching.query_default,
            query_subtypes_calls: batching.query_subtypes,
            mutation_calls: batching.mutation_default,
        }
    }
}

impl Default for DocumentLimits {
    fn default() -> Self {
        DocumentLimits::of(&crate::config::Settings::default())
    }
}

/// Checks the source text before it is parsed: its bracket nesting (outside strings and
/// comments) stays within `max_nesting`.
pub fn check_source(source: &str, limits: &DocumentLimits) -> Result<(), String> {
    let bytes = source.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 2;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    if deepest > limits.max_nesting {
        return Err(format!("Document is nested too deeply: {deepest} levels of brackets, the limit is {}.", limits.max_nesting));
    }
    Ok(())
}

/// Checks a parsed document; the error messages are the platform's where it has the rule.
pub fn check(doc: &ExecutableDocument, limits: &DocumentLimits) -> Result<(), Vec<String>> {
    let mut errors = fragment_cycles(doc);
    if !errors.is_empty() {
        // Sizes are only defined on an acyclic document.
        return Err(errors);
    }
    errors.extend(batching(doc, limits));
    errors.extend(sizes(doc, limits));
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The fragment definitions in document order (async-graphql keeps them in a map).
fn fragments_in_order(doc: &ExecutableDocument) -> Vec<(&Name, &SelectionSet)> {
    let mut list: Vec<_> = doc.fragments.iter().map(|(n, f)| (f.pos, n, &f.node.selection_set.node)).collect();
    list.sort_by_key(|(pos, ..)| (pos.line, pos.column));
    list.into_iter().map(|(_, n, s)| (n, s)).collect()
}

/// Every fragment spread of a selection set, at any depth, in document order.
fn spreads_of(set: &SelectionSet) -> Vec<&Name> {
    let mut out = Vec::new();
    let mut stack: Vec<std::slice::Iter<'_, Positioned<Selection>>> = vec![set.items.iter()];
    while let Some(iter) = stack.last_mut() {
        let Some(item) = iter.next() else {
            stack.pop();
            continue;
        };
        match &item.node {
            Selection::Field(f) => stack.push(f.node.selection_set.node.items.iter()),
            Selection::FragmentSpread(s) => out.push(&s.node.fragment_name.node),
            Selection::InlineFragment(f) => stack.push(f.node.selection_set.node.items.iter()),
        }
    }
    out
}

/// graphql-js's `NoFragmentCyclesRule`, without recursion: one error per cycle found, as
/// `Cannot spread fragment "A" within itself via "B", "C".`
fn fragment_cycles(doc: &ExecutableDocument) -> Vec<String> {
    let spreads: HashMap<&Name, Vec<&Name>> =
        fragments_in_order(doc).into_iter().map(|(name, set)| (name, spreads_of(set))).collect();
    let mut errors = Vec::new();
    let mut visited: std::collections::HashSet<&Name> = std::collections::HashSet::new();
    for (start, _) in fragments_in_order(doc) {
        if !visited.insert(start) {
            continue;
        }
        // The walk: per fragment on the path, the index of its next spread.
        let mut path_index: HashMap<&Name, usize> = HashMap::from([(start, 0)]);
        let mut spread_path: Vec<&Name> = Vec::new();
        let mut frames: Vec<(&Name, usize)> = vec![(start, 0)];
        while let Some(&(fragment, next)) = frames.last() {
            let list = spreads.get(fragment).map(Vec::as_slice).unwrap_or_default();
            let Some(&spread) = list.get(next) else {
                path_index.remove(fragment);
                frames.pop();
                spread_path.pop();
                continue;
            };
            if let Some(top) = frames.last_mut() {
                top.1 += 1;
            }
            match path_index.get(spread) {
                Some(&at) => {
                    let via: Vec<String> = spread_path[at..].iter().map(|n| format!("\"{n}\"")).collect();
                    errors.push(if via.is_empty() {
                        format!("Cannot spread fragment \"{spread}\" within itself.")
                    } else {
                        format!("Cannot spread fragment \"{spread}\" within itself via {}.", via.join(", "))
                    });
                }
                None if spreads.contains_key(spread) && visited.insert(spread) => {
                    spread_path.push(spread);
                    path_index.insert(spread, spread_path.len());
                    frames.push((spread, 0));
                }
                None => {}
            }
        }
    }
    errors
}

/// `graphql-no-alias` as the platform configures it: every field whose parent type is
/// `Query` or `Mutation` is counted, wherever it is written (operations, inline fragments,
/// fragments on those types); one error per field over its limit.
fn batching(doc: &ExecutableDocument, limits: &DocumentLimits) -> Vec<String> {
    let mut sets: Vec<(&str, &SelectionSet)> = Vec::new();
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => continue,
        };
        sets.push((root, &op.node.selection_set.node));
    }
    for (name, set) in fragments_in_order(doc) {
        let on = doc.fragments.get(name).map(|f| f.node.type_condition.node.on.node.as_str());
        if let Some(root @ ("Query" | "Mutation")) = on {
            sets.push((root, set));
        }
    }
    let mut counts: Vec<((&str, &str), u32)> = Vec::new();
    let mut errors = Vec::new();
    while let Some((root, set)) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let field = f.node.name.node.as_str();
                    let max = match (root, field) {
                        ("Query", "subTypes") => limits.query_subtypes_calls,
                        ("Query", _) => limits.query_calls,
                        _ => limits.mutation_calls,
                    };
                    let count = match counts.iter_mut().find(|(k, _)| *k == (root, field)) {
                        Some((_, c)) => c,
                        None => {
                            counts.push(((root, field), 0));
                            &mut counts.last_mut().expect("just pushed").1
                        }
                    };
                    *count += 1;
                    if *count == max + 1 {
                        errors.push(format!("Allowed number of calls for {root}->{field} has been exceeded (max: {max})"));
                    }
                }
                Selection::InlineFragment(f) => {
                    let on = f.node.type_condition.as_ref().map(|t: &Positioned<TypeCondition>| t.node.on.node.as_str());
                    if on.is_none_or(|t| t == root) {
                        sets.push((root, &f.node.selection_set.node));
                    }
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
    errors
}

/// What resolving a selection set costs once its spreads are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    fields: u64,
    depth: u64,
}

/// The cost of a selection set, given the cost of every fragment it spreads. Field nesting
/// inside one definition is bounded by [`check_source`], so this walk is shallow.
fn cost_of(set: &SelectionSet, fragments: &HashMap<&Name, Cost>) -> Cost {
    let mut cost = Cost::default();
    for item in &set.items {
        let inner = match &item.node {
            Selection::Field(f) => {
                let sub = cost_of(&f.node.selection_set.node, fragments);
                Cost { fields: sub.fields.saturating_add(1), depth: sub.depth.saturating_add(1) }
            }
            Selection::FragmentSpread(s) => fragments.get(&s.node.fragment_name.node).copied().unwrap_or_default(),
            Selection::InlineFragment(f) => cost_of(&f.node.selection_set.node, fragments),
        };
        cost.fields = cost.fields.saturating_add(inner.fields);
        cost.depth = cost.depth.max(inner.depth);
    }
    cost
}

/// Field count and depth of every operation, each fragment costed once (in an order where
/// the fragments it spreads come first: the document is acyclic here).
fn sizes(doc: &ExecutableDocument, limits: &DocumentLimits) -> Vec<String> {
    let order = fragments_in_order(doc);
    let spreads: HashMap<&Name, Vec<&Name>> = order.iter().map(|(name, set)| (*name, spreads_of(set))).collect();
    let mut costs: HashMap<&Name, Cost> = HashMap::with_capacity(order.len());
    for (start, _) in &order {
        let mut frames: Vec<(&Name, usize)> = vec![(start, 0)];
        while let Some(&(fragment, next)) = frames.last() {
            if costs.contains_key(fragment) {
                frames.pop();
                continue;
            }
            let list = spreads.get(fragment).map(Vec::as_slice).unwrap_or_default();
            match list.get(next) {
                Some(&spread) => {
                    if let Some(top) = frames.last_mut() {
                        top.1 += 1;
                    }
                    if spreads.contains_key(spread) && !costs.contains_key(spread) {
                        frames.push((spread, 0));
                    }
                }
                None => {
                    let set = doc.fragments.get(fragment).map(|f| &f.node.selection_set.node);
                    let cost = set.map(|s| cost_of(s, &costs)).unwrap_or_default();
                    costs.insert(fragment, cost);
                    frames.pop();
                }
            }
        }
    }
    let mut errors = Vec::new();
    for (name, op) in doc.operations.iter() {
        let cost = cost_of(&op.node.selection_set.node, &costs);
        let label = name.map(|n| format!("Operation \"{n}\"")).unwrap_or_else(|| "The operation".to_string());
        if cost.fields > limits.max_fields {
            errors.push(format!(
                "{label} resolves {} fields once its fragments are expanded; the limit is {}.",
                cost.fields, limits.max_fields
            ));
        }
        if cost.depth > limits.max_depth {
            errors.push(format!(
                "{label} nests fields {} deep once its fragments are expanded; the limit is {}.",
                cost.depth, limits.max_depth
            ));
        }
    }
    errors
}

/// Checks each request before async-graphql walks its document: [`check_source`], then
/// the parse (kept in the request, so it is not parsed again), then [`check`] — before
/// async-graphql's own recursive-depth walk (which visits every path through the
/// fragments, 2^k of them) and its validation (whose inlining visitors overflow on a
/// fragment cycle). The limits are the request's [`DocumentLimits`] data, the defaults
/// without it.
pub struct LimitsExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for LimitsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let limits = request
            .data
            .get(&std::any::TypeId::of::<DocumentLimits>())
            .and_then(|d| d.downcast_ref::<DocumentLimits>())
            .copied()
            .unwrap_or_default();
        check_source(&request.query, &limits).map_err(refusal)?;
        let doc = request.parsed_query()?;
        if let Err(mut errors) = check(doc, &limits) {
            // One error per request: the hook returns one (the first is the cause).
            return Err(refusal(errors.swap_remove(0)));
        }
        next.run(ctx, request).await
    }
}

impl ExtensionFactory for LimitsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(LimitsExtension)
    }
}

/// A refused document: Apollo's validation code.
fn refusal(message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", crate::graphql::errors::GRAPHQL_VALIDATION_FAILED.name);
    error.extensions = Some(extensions);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(source: &str) -> Vec<String> {
        let limits = DocumentLimits::default();
        check_source(source, &limits)
            .map_err(|e| vec![e])
            .and_then(|()| {
                let doc = async_graphql::parser::parse_query(source).expect("the test document parses");
                check(&doc, &limits)
            })
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn self_spreading_fragments_are_refused_with_graphql_js_words() {
        assert_eq!(errors("query { ...A } fragment A on Query { ...A }"), ["Cannot spread fragment \"A\" within itself."]);
        assert_eq!(
            errors(
                "query { ...A } fragment A on Query { about { ...B } } fragment B on AppInfo { ...C } fragment C on AppInfo { ...A }"
            ),
            ["Cannot spread fragment \"A\" within itself via \"B\", \"C\"."]
        );
    }

    #[test]
    fn doubled_spreads_are_costed_without_being_expanded() {
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..40 {
            doc.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
        }
        doc.push_str("fragment F40 on Query { about { version } }\n");
        let errors = errors(&doc);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].starts_with("The operation resolves 2199023255552 fields"), "{errors:?}");
    }

    #[test]
    fn a_long_chain_of_fragments_is_walked_without_recursion() {
        let mut doc = String::from("query { ...F0 }\n");
        for i in 0..20_000 {
            doc.push_str(&format!("fragment F{i} on Query {{ ...F{} }}\n", i + 1));
        }
        doc.push_str("fragment F20000 on Query { ...F0 }\n");
        let errors = errors(&doc);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].starts_with("Cannot spread fragment \"F0\" within itself via \"F1\", \"F2\""));
    }

    #[test]
    fn root_fields_follow_the_platform_batching_limits() {
        assert!(errors("query { a: about { version } b: about { version } }").is_empty());
        assert_eq!(
            errors("query { a: about { version } b: about { version } c: about { version } }"),
            ["Allowed number of calls for Query->about has been exceeded (max: 2)"]
        );
        assert_eq!(
            errors("mutation { a: pingConnector(id: \"x\") { id } b: pingConnector(id: \"y\") { id } }"),
            ["Allowed number of calls for Mutation->pingConnector has been exceeded (max: 1)"]
        );
        assert!(errors("query { subTypes { id } b: subTypes { id } c: subTypes { id } d: subTypes { id } }").is_empty());
    }

    #[test]
    fn deep_source_nesting_is_refused_before_parsing() {
        let doc = format!("query {}{}", "{ a ".repeat(100_000), "}".repeat(100_000));
        let errors = errors(&doc);
        assert_eq!(errors, ["Document is nested too deeply: 100000 levels of brackets, the limit is 128."]);
        // Brackets inside strings and comments do not count.
        assert!(
            check_source("query { a(x: \"{{{{{{{{\") # ((((((\n }", &DocumentLimits { max_nesting: 3, ..Default::default() })
                .is_ok()
        );
    }
}
