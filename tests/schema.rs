//! The schema builder's guarantees: declared means implemented, and the reverse.

use opencti_mock::graphql::builder::{BuildError, Registry, build};
use opencti_mock::graphql::sdl::Definitions;
use opencti_mock::graphql::{definitions, registry};

#[test]
fn the_platform_schema_builds_with_every_resolver() {
    let definitions = definitions().expect("the schema's texts parse");
    let registry = registry(&definitions);
    let schema = build(definitions, registry, true, |b| b).expect("builds");
    let sdl = schema.sdl();
    for op in ["registerConnector", "pingConnector", "workAdd", "stixBundlePush", "connectorsForWorker", "isWorkAlive"] {
        assert!(sdl.contains(op), "{op} is in the schema");
    }
}

#[test]
fn a_root_field_without_a_resolver_fails_the_build_by_name() {
    let sdl = "type Query { about: String }";

    let err = match build(Definitions::parse(&[sdl]).expect("parses"), Registry::default(), true, |b| b) {
        Err(e) => e,
        Ok(_) => panic!("a root field without resolver must be refused"),
    };

    assert!(matches!(err, BuildError::Unresolved(ref t, ref f) if t == "Query" && f == "about"), "{err}");
}

#[test]
fn a_resolver_for_an_undeclared_field_fails_the_build_by_name() {
    let sdl = "type Query { about: String }";
    let mut r = Registry::default();
    r.sync("Query", "about", |_| Ok(None));
    r.sync("Query", "ghost", |_| Ok(None));

    let err = match build(Definitions::parse(&[sdl]).expect("parses"), r, true, |b| b) {
        Err(e) => e,
        Ok(_) => panic!("an undeclared resolver must be refused"),
    };

    assert_eq!(err.to_string(), "a resolver is registered for Query.ghost, which the schema does not declare");
}
