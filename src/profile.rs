//! Platform version profiles.
//!
//! The mock always serves the union of the 6.9 and 7.x GraphQL surfaces (a 6.x
//! platform would reject pycti 7's `isMultiPartWork` argument outright, which
//! tells a developer nothing). What a profile changes is *behaviour*: the
//! version `about` reports, how `stixBundlePush` hands bundles to the worker,
//! and how works complete. Each difference is documented where it is applied.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which platform release the mock behaves like.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Profile};
/// // 6.9: works complete when processed = expected and die at toProcessed
/// let platform = MockPlatform::builder().profile(Profile::V6_9).start().await;
/// # drop(platform);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum Profile {
    /// OpenCTI 7.x (calendar versions, the pinned `7.261026.0`): server-side split in
    /// `stixBundlePush` with expectations added before the mutation returns, multipart works,
    /// completion on `processed >= expected`, works stay alive after completion.
    #[default]
    #[serde(rename = "7")]
    V7,
    /// OpenCTI 6.9.x: `stixBundlePush` queues the whole bundle and the worker splits it later,
    /// so a work closed with `toProcessed` before the worker ran completes early
    /// (connectors#6302); completion on `processed == expected`; completing a work through
    /// `toProcessed` kills it (its Redis key is deleted), after which the worker drops its
    /// remaining messages.
    #[serde(rename = "6.9")]
    V6_9,
}

impl Profile {
    /// The version string `about { version }` answers.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{MockPlatform, Profile};
    /// let platform = MockPlatform::builder().profile(Profile::V6_9).start().await;
    /// let about: serde_json::Value = reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({"query": "query Version { about { version } }"})).send().await.unwrap().json().await.unwrap();
    /// assert_eq!(about["data"]["about"]["version"], Profile::V6_9.version());
    /// # }
    /// ```
    pub fn version(self) -> &'static str {
        match self {
            Profile::V7 => "7.261026.0",
            Profile::V6_9 => "6.9.17",
        }
    }

    /// 7.x splits bundles in `stixBundlePush` and adds the expectations synchronously.
    ///
    /// ```
    /// use opencti_mock::Profile;
    /// // 6.9 leaves the split to its worker: a work closed right after the push completes early
    /// assert!(Profile::V7.splits_on_push() && !Profile::V6_9.splits_on_push());
    /// ```
    pub fn splits_on_push(self) -> bool {
        matches!(self, Profile::V7)
    }

    /// 7.x keeps a completed work alive; 6.9 deletes its Redis key on `toProcessed` completion.
    ///
    /// ```
    /// use opencti_mock::Profile;
    /// // on 6.9 the worker then drops the work's remaining messages
    /// assert!(Profile::V6_9.completion_kills_work() && !Profile::V7.completion_kills_work());
    /// ```
    pub fn completion_kills_work(self) -> bool {
        matches!(self, Profile::V6_9)
    }

    /// 7.x compares `processed >= expected`; 6.9 uses strict equality.
    ///
    /// ```
    /// use opencti_mock::Profile;
    /// // one object reported twice: 4 processed of 3 expected
    /// assert!(Profile::V7.is_finished(3, 4) && !Profile::V6_9.is_finished(3, 4));
    /// ```
    pub fn is_finished(self, expected: i64, processed: i64) -> bool {
        match self {
            Profile::V7 => processed >= expected,
            Profile::V6_9 => processed == expected,
        }
    }

    /// Whether `workAdd(isMultiPartWork: true)` changes completion (a 7.x feature).
    ///
    /// ```
    /// use opencti_mock::Profile;
    /// // 6.9 accepts the argument but completes such a work like any other
    /// assert!(Profile::V7.supports_multipart_works() && !Profile::V6_9.supports_multipart_works());
    /// ```
    pub fn supports_multipart_works(self) -> bool {
        matches!(self, Profile::V7)
    }
}

/// Accepts `"7"`, `"6.9"` and the numbers `7` and `6.9` (environment values arrive typed).
impl<'de> Deserialize<'de> for Profile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Profile;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a platform profile: \"7\" or \"6.9\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Profile, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Profile, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Profile, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Profile, E> {
                self.visit_str(&v.to_string())
            }
        }
        d.deserialize_any(V)
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::V7 => "7",
            Profile::V6_9 => "6.9",
        })
    }
}

impl FromStr for Profile {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "7" | "7.x" | "v7" => Ok(Profile::V7),
            "6.9" | "6.9.x" | "v6.9" | "6" => Ok(Profile::V6_9),
            other => Err(format!("unknown platform profile '{other}' (expected '7' or '6.9')")),
        }
    }
}
