//! The platform's GraphQL API, as pycti's `OpenCTIApiClient` calls it.
//!
//! One named operation per `POST /graphql`, bearer token, JSON variables; a body with
//! `errors` is an error (the first one, named as pycti names it). Files go up with the
//! GraphQL multipart request spec (`operations`, `map`, then the parts). A client may act
//! for another user (`opencti-applicant-id`, what pycti's `api_impersonate` does for
//! exports) and inside a draft (`opencti-draft-id`).

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::error::{Error, Result};

/// A GraphQL client of the platform.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    token: String,
    applicant: Option<String>,
    draft: Option<String>,
}

/// A file to upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The variable it goes in (`file`).
    pub variable: String,
    /// Its name.
    pub name: String,
    /// Its MIME type.
    pub mime: String,
    /// Its content.
    pub data: Vec<u8>,
}

impl Client {
    /// A client of the platform at `url` (no trailing `/`) with `token`.
    pub fn new(url: &str, token: &str) -> Result<Client> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("opencti-connector-kit/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Http(e.to_string()))?;
        Ok(Client { http, url: url.trim_end_matches('/').to_string(), token: token.to_string(), applicant: None, draft: None })
    }

    /// The platform's address.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The token it authenticates with.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The HTTP client underneath (shared connection pool).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// This client acting for another user (`opencti-applicant-id`): the platform answers
    /// reads as that user would see them.
    pub fn impersonate(&self, user_id: &str) -> Client {
        Client { applicant: Some(user_id.to_string()), ..self.clone() }
    }

    /// This client writing into a draft (`opencti-draft-id`), or out of it (`None`).
    pub fn in_draft(&self, draft_id: Option<&str>) -> Client {
        Client { draft: draft_id.map(str::to_string), ..self.clone() }
    }

    fn headers(&self) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", self.token)) {
            h.insert(AUTHORIZATION, v);
        }
        for (name, value) in [("opencti-applicant-id", &self.applicant), ("opencti-draft-id", &self.draft)] {
            if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                h.insert(name, v);
            }
        }
        h
    }

    /// Runs an operation; returns its `data`.
    pub async fn query(&self, document: &str, variables: Value) -> Result<Value> {
        let response = self
            .http
            .post(format!("{}/graphql", self.url))
            .headers(self.headers())
            .json(&json!({ "query": document, "variables": variables }))
            .send()
            .await?;
        read_answer(response).await
    }

    /// Runs an operation with files (GraphQL multipart request): each upload's variable is
    /// `null` in `operations` and mapped to its part.
    pub async fn upload(&self, document: &str, mut variables: Value, uploads: Vec<Upload>) -> Result<Value> {
        let mut map = serde_json::Map::new();
        for (i, u) in uploads.iter().enumerate() {
            variables[&u.variable] = Value::Null;
            map.insert(i.to_string(), json!([format!("variables.{}", u.variable)]));
        }
        let operations = json!({ "query": document, "variables": variables });
        let mut form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", Value::Object(map).to_string());
        for (i, u) in uploads.into_iter().enumerate() {
            let part = reqwest::multipart::Part::bytes(u.data)
                .file_name(u.name)
                .mime_str(&u.mime)
                .map_err(|e| Error::Other(format!("MIME type: {e}")))?;
            form = form.part(i.to_string(), part);
        }
        let response = self.http.post(format!("{}/graphql", self.url)).headers(self.headers()).multipart(form).send().await?;
        read_answer(response).await
    }

    /// Downloads a file of the platform's storage (`/storage/get/<id>`, or the job's
    /// `file_fetch` path) with this client's token.
    pub async fn fetch_file(&self, path: &str) -> Result<Vec<u8>> {
        let path = if path.starts_with('/') { path.to_string() } else { format!("/storage/get/{path}") };
        let response = self.http.get(format!("{}{path}", self.url)).headers(self.headers()).send().await?;
        let status = response.status();
        if !status.is_success() {
            return Err(Error::Http(format!("GET {path} answered {status}")));
        }
        Ok(response.bytes().await?.to_vec())
    }
}

async fn read_answer(response: reqwest::Response) -> Result<Value> {
    let status = response.status();
    let text = response.text().await?;
    if status != reqwest::StatusCode::OK {
        return Err(Error::Http(format!("POST /graphql answered {status}: {}", text.chars().take(500).collect::<String>())));
    }
    let body: Value = serde_json::from_str(&text).map_err(|e| Error::Http(format!("POST /graphql answered no JSON: {e}")))?;
    if let Some(first) = body.get("errors").and_then(|e| e.get(0)) {
        let message = first.get("message").and_then(Value::as_str).unwrap_or("").to_string();
        let name = first
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| first.pointer("/extensions/code").and_then(Value::as_str))
            .unwrap_or(&message)
            .to_string();
        return Err(Error::GraphQl { name, message });
    }
    Ok(body.get("data").cloned().unwrap_or(Value::Null))
}
