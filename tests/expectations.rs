//! Expectations verified on drop: the failure report is part of the API, so it is pinned.

mod common;

use std::time::Duration;

use common::{REGISTER, gql, registration};
use opencti_mock::matchers::{error_code, operation, succeeded, user, variable};
use opencti_mock::{Expect, MockPlatform};
use serde_json::json;

const TOKEN: &str = "tok-connector";

async fn platform() -> MockPlatform {
    MockPlatform::builder().connector_user("importer", TOKEN).start().await
}

#[tokio::test]
async fn a_satisfied_expectation_passes_silently() {
    let p = platform().await;
    Expect::given(operation("RegisterConnector"))
        .and(variable("input.type", "EXTERNAL_IMPORT"))
        .and(user("importer"))
        .and(succeeded())
        .expect(1)
        .mount(&p);

    gql(p.url(), Some(TOKEN), REGISTER, registration(&uuid::Uuid::new_v4().to_string(), "Importer")).await;

    assert!(p.verify().is_ok());
}

#[tokio::test]
#[should_panic(
    expected = "Verifications failed:\n- connector registers exactly once: expected exactly 1 matching operation(s), received 0\nReceived operations:\n1. healthCheck (about) {}"
)]
async fn panics_when_an_expectation_is_not_met_listing_what_was_received() {
    let p = platform().await;
    Expect::given(operation("RegisterConnector")).expect(1).named("connector registers exactly once").mount(&p);

    gql(p.url(), Some(TOKEN), "query healthCheck { about { version } }", json!({})).await;
}

#[tokio::test]
#[should_panic(expected = "- Expectation #1: expected at least 2 matching operation(s), received 1")]
async fn unnamed_expectations_are_numbered_and_ranges_are_reported() {
    let p = platform().await;
    Expect::given(operation("about")).expect(2..).mount(&p);

    gql(p.url(), Some(TOKEN), "query healthCheck { about { version } }", json!({})).await;
}

#[tokio::test]
async fn error_codes_can_be_expected() {
    let p = platform().await;
    Expect::given(operation("healthCheck")).and(error_code("AUTH_REQUIRED")).expect(1).mount(&p);

    gql(p.url(), Some("wrong"), "query healthCheck { about { version } }", json!({})).await;

    assert!(p.verify().is_ok());
}

#[tokio::test]
async fn a_scoped_expectation_can_be_awaited_and_reports_what_it_matched() {
    let p = platform().await;
    let guard = Expect::given(operation("registerConnector")).expect(1).mount_as_scoped(&p);
    let url = p.url().to_string();

    tokio::spawn(
        async move { gql(&url, Some(TOKEN), REGISTER, registration(&uuid::Uuid::new_v4().to_string(), "Importer")).await },
    );

    assert!(guard.wait_until_satisfied(Duration::from_secs(5)).await);
    assert_eq!(guard.received()[0].operation_name.as_deref(), Some("RegisterConnector"));
}

#[tokio::test]
#[should_panic(expected = "expected exactly 0 matching operation(s), received 1")]
async fn a_scoped_expectation_is_verified_when_its_guard_drops() {
    let p = platform().await;
    {
        let _guard = Expect::given(operation("about")).expect(0).mount_as_scoped(&p);
        gql(p.url(), Some(TOKEN), "{ about { version } }", json!({})).await;
    }
}

#[tokio::test]
#[should_panic(
    expected = "- two health checks: expected exactly 2 matching operation(s), received 1 (the platform was reset after it was mounted: what it received before the reset is forgotten)"
)]
async fn an_expectation_mounted_before_a_reset_says_the_reset_forgot_what_it_counted() {
    let p = platform().await;
    Expect::given(operation("healthCheck")).expect(2).named("two health checks").mount(&p);
    gql(p.url(), Some(TOKEN), "query healthCheck { about { version } }", json!({})).await;

    let reset =
        reqwest::Client::new().post(format!("{}/_mock/reset", p.url())).bearer_auth(p.token()).send().await.expect("answer");
    assert_eq!(reset.status(), 204);
    gql(p.url(), Some(TOKEN), "query healthCheck { about { version } }", json!({})).await;
}
