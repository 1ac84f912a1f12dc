//! GraphQL multipart requests (the jaydenseric spec pycti uses for uploads):
//! `operations` (JSON), `map` (file part name → variable paths), then the file parts.
//!
//! As on the platform (`graphqlUploadExpress()` defaults): the whole body is read before
//! anything is answered — authentication comes after — and nothing is refused for its
//! size, yet memory stays bounded whoever sends it. `operations` and `map` are limited to
//! 1 000 000 bytes each and must come first, in that order; every file part named in `map`
//! streams into an anonymous temporary file (deleted when the upload is dropped) and is
//! handed to resolvers as a read-only memory map of it; parts `map` does not name are
//! drained, never kept. A body that is not a valid multipart request is a
//! [`ParseError::Body`].

use std::collections::HashMap;
use std::io::Write;

use async_graphql::{UploadValue, Variables};
use axum::body::Body;
use bytes::Bytes;
use serde::Deserialize;

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

/// A file part, spooled to disk.
struct Spooled {
    filename: String,
    content_type: Option<String>,
    content: Bytes,
}

/// Parses a multipart GraphQL request from a streaming body.
pub async fn parse(content_type: &str, body: Body) -> Result<Parsed, ParseError> {
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| ParseError::Body(format!("Invalid multipart request: {e}")))?;
    let constraints = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().for_field("operations", MAX_FIELD_SIZE).for_field("map", MAX_FIELD_SIZE));
    let mut mp = multer::Multipart::with_constraints(body.into_data_stream(), boundary, constraints);
    let mut operations: Option<Operations> = None;
    let mut map: Option<HashMap<String, Vec<String>>> = None;
    let mut files: HashMap<String, Spooled> = HashMap::new();
    // Once the request is known to be unusable the rest of the body is still read (the
    // client sends it all before reading the answer), but nothing more is kept.
    let mut failure: Option<ParseError> = None;
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(failure.unwrap_or(ParseError::Body(field_error(e)))),
        };
        let name = field.name().unwrap_or_default().to_string();
        if failure.is_some() {
            drain(&mut field).await.map_err(|e| ParseError::Body(field_error(e)))?;
            continue;
        }
        let step = match (name.as_str(), &operations, &map) {
            ("operations", None, _) => read_json(field).await.map(|ops| operations = Some(ops)),
            (_, None, _) => Err(ParseError::Body("Misordered multipart fields; expected 'operations'.".into())),
            ("map", Some(_), None) => read_json(field).await.map(|m| map = Some(m)),
            (_, Some(_), None) => Err(ParseError::Body("Misordered multipart fields; expected 'map'.".into())),
            (part, Some(_), Some(m)) if m.contains_key(part) && !files.contains_key(part) => spool(field).await.map(|spooled| {
                files.insert(name, spooled);
            }),
            _ => drain(&mut field).await.map_err(|e| ParseError::Body(field_error(e))),
        };
        if let Err(e) = step {
            failure = Some(e);
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    let ops = operations.ok_or_else(|| ParseError::Body("Misordered multipart fields; expected 'operations'.".into()))?;
    let mut uploads = Vec::new();
    for (part, paths) in map.unwrap_or_default() {
        let spooled = files
            .remove(&part)
            .ok_or_else(|| ParseError::Body(format!("File missing in the request for map entry '{part}'.")))?;
        for path in paths {
            let upload = UploadValue {
                filename: spooled.filename.clone(),
                content_type: spooled.content_type.clone(),
                content: spooled.content.clone(),
            };
            uploads.push((path, upload));
        }
    }
    Ok(Parsed { query: ops.query, variables: ops.variables.unwrap_or_default(), operation_name: ops.operation_name, uploads })
}

/// A JSON field (`operations`, `map`), within its size limit.
async fn read_json<T: serde::de::DeserializeOwned>(field: multer::Field<'_>) -> Result<T, ParseError> {
    let name = field.name().unwrap_or_default().to_string();
    let data = field.bytes().await.map_err(|e| ParseError::Body(field_error(e)))?;
    serde_json::from_slice(&data).map_err(|e| ParseError::Body(format!("Invalid JSON in the '{name}' multipart field: {e}")))
}

/// Streams a file part into an anonymous temporary file and maps it read-only.
async fn spool(mut field: multer::Field<'_>) -> Result<Spooled, ParseError> {
    let io = |e: std::io::Error| ParseError::Body(format!("The upload could not be stored: {e}"));
    let filename = field.file_name().unwrap_or_default().to_string();
    let content_type = field.content_type().map(|m| m.to_string());
    let mut file = tempfile::tempfile().map_err(io)?;
    let mut size = 0usize;
    while let Some(chunk) = field.chunk().await.map_err(|e| ParseError::Body(field_error(e)))? {
        // Small synchronous writes to a local file; the page cache absorbs them.
        file.write_all(&chunk).map_err(io)?;
        size += chunk.len();
    }
    let content = if size == 0 {
        Bytes::new()
    } else {
        file.flush().map_err(io)?;
        // SAFETY: the file is anonymous (unlinked at creation) and owned here: no other
        // process or handle can truncate or change it while it is mapped.
        let mapped = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Bytes::from_owner(mapped)
    };
    Ok(Spooled { filename, content_type, content })
}

/// Reads a part off the wire without keeping it.
async fn drain(field: &mut multer::Field<'_>) -> Result<(), multer::Error> {
    while field.chunk().await?.is_some() {}
    Ok(())
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
