//! GraphQL multipart requests (the jaydenseric spec pycti uses for uploads):
//! `operations` (JSON), `map` (file part name → variable paths), then the file parts.
//!
//! As on the platform (`graphqlUploadExpress()` defaults), the `operations` and `map`
//! fields are limited to 1 000 000 bytes each; files are not limited by the JSON payload
//! limit. Files are kept in memory.

use async_graphql::{UploadValue, Variables};
use axum::body::Body;
use bytes::Bytes;
use serde::Deserialize;
use std::collections::HashMap;

/// `graphql-upload`'s default `maxFieldSize`.
pub const MAX_FIELD_SIZE: u64 = 1_000_000;

/// A parsed GraphQL request.
pub struct Parsed {
    /// The document.
    pub query: Option<String>,
    /// Variables (files replaced by null until bound).
    pub variables: Variables,
    /// Operation name.
    pub operation_name: Option<String>,
    /// Files and the variable paths they bind to.
    pub uploads: Vec<(String, UploadValue)>,
}

/// Why a request could not be parsed.
#[derive(Debug)]
pub enum ParseError {
    /// The body itself is unusable (the platform's Express error: HTTP 500).
    Body(String),
    /// The body is fine but is not a GraphQL request (a GraphQL error, HTTP 200).
    Graphql(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Operations {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    variables: Option<Variables>,
    #[serde(default)]
    operation_name: Option<String>,
}

/// Parses a multipart GraphQL request from a streaming body.
pub async fn parse(content_type: &str, body: Body) -> Result<Parsed, ParseError> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| ParseError::Body(format!("Invalid multipart request: {e}")))?;
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().for_field("operations", MAX_FIELD_SIZE).for_field("map", MAX_FIELD_SIZE));
    let mut mp = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut operations: Option<String> = None;
    let mut map: Option<String> = None;
    let mut files: HashMap<String, (String, Option<String>, Bytes)> = HashMap::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(ParseError::Body(field_error(e))),
        };
        let name = field.name().unwrap_or_default().to_string();
        let filename = field.file_name().map(str::to_string);
        let content_type = field.content_type().map(|m| m.to_string());
        let data = field.bytes().await.map_err(|e| ParseError::Body(field_error(e)))?;
        match name.as_str() {
            "operations" => operations = Some(String::from_utf8_lossy(&data).into_owned()),
            "map" => map = Some(String::from_utf8_lossy(&data).into_owned()),
            _ => {
                files.insert(name, (filename.unwrap_or_default(), content_type, data));
            }
        }
    }
    let operations = operations.ok_or_else(|| ParseError::Body("Misordered multipart fields; expected 'operations'.".into()))?;
    let ops: Operations = serde_json::from_str(&operations)
        .map_err(|e| ParseError::Body(format!("Invalid JSON in the 'operations' multipart field: {e}")))?;
    let map: HashMap<String, Vec<String>> = match map {
        Some(m) => {
            serde_json::from_str(&m).map_err(|e| ParseError::Body(format!("Invalid JSON in the 'map' multipart field: {e}")))?
        }
        None => HashMap::new(),
    };
    let mut uploads = Vec::new();
    for (part, paths) in map {
        let (filename, content_type, content) = files
            .remove(&part)
            .ok_or_else(|| ParseError::Body(format!("File missing in the request for map entry '{part}'.")))?;
        for path in paths {
            uploads.push((
                path,
                UploadValue { filename: filename.clone(), content_type: content_type.clone(), content: content.clone() },
            ));
        }
    }
    Ok(Parsed { query: ops.query, variables: ops.variables.unwrap_or_default(), operation_name: ops.operation_name, uploads })
}

fn field_error(e: multer::Error) -> String {
    match e {
        multer::Error::FieldSizeExceeded { field_name, .. } => {
            format!(
                "The '{}' multipart field value exceeds the {MAX_FIELD_SIZE} byte size limit.",
                field_name.unwrap_or_default()
            )
        }
        other => format!("Invalid multipart request: {other}"),
    }
}
