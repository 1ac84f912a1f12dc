//! `artifactImport(file, fileMarkings, x_opencti_description, createdBy, objectMarking,
//! objectLabel)`: an uploaded file becomes an Artifact observable, as the platform's
//! `artifactImport` makes one (pycti's `stix_cyber_observable.upload_artifact`, connectors
//! that hand a sample to the platform).
//!
//! The platform hashes the content (MD5, SHA-1, SHA-256, SHA-512: the Artifact's standard
//! id comes from its hashes, so the same file uploaded twice upserts one Artifact), records
//! the file name in `x_opencti_additional_names` and its MIME type, creates the observable
//! with the author, markings and labels given, and stores the file under it
//! (`import/Artifact/<id>/<name>`), where `importFiles` lists it and the automatic import
//! does not start (the platform passes `noTriggerImport`).

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use md5::Md5;
use serde_json::{Map, Value as Json, json};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::jobs::{asker, job_error};
use crate::graphql::knowledge::add::{build, finish};
use crate::graphql::knowledge::input::upload;
use crate::graphql::knowledge::view::{Api, arg, arg_strs};

/// The hashes the platform records, as `HashInput`s (`[{algorithm, hash}]`).
pub fn hashes(content: &[u8]) -> Json {
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    json!([
        {"algorithm": "MD5", "hash": hex(&Md5::digest(content))},
        {"algorithm": "SHA-1", "hash": hex(&Sha1::digest(content))},
        {"algorithm": "SHA-256", "hash": hex(&Sha256::digest(content))},
        {"algorithm": "SHA-512", "hash": hex(&Sha512::digest(content))},
    ])
}

/// The resolver of `artifactImport`.
pub fn artifact_import(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let file = upload(ctx, &arg(ctx, "file")).ok_or_else(|| functional("artifactImport needs a file (multipart upload)", json!({})))?;
    let mime_type = file.mime_type.clone().unwrap_or_else(|| crate::store::files::guess_mime(&file.name));
    let mut input = Map::new();
    input.insert("hashes".into(), hashes(&file.content));
    input.insert("mime_type".into(), json!(mime_type));
    // The file itself, recorded as the artifact's import file (its content is stored below).
    input.insert("files".into(), json!([arg(ctx, "file")]));
    input.insert("filesMarkings".into(), json!([arg_strs(ctx, "fileMarkings")]));
    for key in ["x_opencti_description", "createdBy", "objectMarking", "objectLabel"] {
        let v = arg(ctx, key);
        if !v.is_null() {
            input.insert(key.into(), v);
        }
    }
    let name = file.name.clone();
    let stix = build(ctx, api, "artifact", &input, |stix, _| {
        stix.insert("x_opencti_additional_names".into(), json!([name]));
    })?;
    let (created, answer) = finish(ctx, api, &stix, &input, "Artifact")?;
    let (core, _) = parts(ctx)?;
    let stored = crate::jobs::Upload {
        mime_type,
        filename: file.name,
        content: file.content,
        markings: arg_strs(ctx, "fileMarkings"),
        entity_id: Some(created.id),
        pending: false,
        no_trigger_import: true,
    };
    crate::jobs::upload_file(&core.jobs, stored, &asker(ctx)?).map_err(job_error)?;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashes_are_those_of_the_content() {
        let h = hashes(b"abc");

        assert_eq!(h[0]["hash"], "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(h[1]["hash"], "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(h[2]["hash"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(h[3]["hash"].as_str().is_some_and(|s| s.len() == 128 && s.starts_with("ddaf35a1")));
    }
}
