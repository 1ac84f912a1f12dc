//! The platform's file storage (S3/MinIO on the real platform), in memory.
//!
//! Ids are the platform's storage paths: `import/global/<name>` for global imports,
//! `import/<Entity-Type>/<internal id>/<name>` for files attached to an entity,
//! `import/pending/<name>` for workbenches, `export/…` and `analysis/…` for what
//! connectors produce. The content is kept whole; `GET /storage/get/<id>` serves it.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A stored file.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// let (file, _works) = platform.upload_file("report.pdf", "application/pdf", &b"%PDF-1.7"[..]);
/// assert_eq!((file.name.as_str(), file.size), ("report.pdf", 8));
/// assert_eq!(platform.file(&file.id).map(|f| f.mime_type), Some("application/pdf".to_string()));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct StoredFile {
    /// Storage path (the platform's file id).
    pub id: String,
    /// Base name.
    pub name: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Marking definitions (internal or standard ids, as given).
    pub markings: Vec<String>,
    /// The entity it is attached to (internal id), if any.
    pub entity_id: Option<String>,
    /// Who uploaded it (user id).
    pub uploaded_by: Option<String>,
    /// When.
    pub last_modified: DateTime<Utc>,
    /// Extra metadata (`list_filters`, `labels`…), as the platform's `metaData`.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The content.
    #[serde(skip)]
    pub content: Bytes,
}

/// Every stored file, by id.
#[derive(Debug, Default)]
pub struct Files {
    items: BTreeMap<String, StoredFile>,
}

impl Files {
    /// Stores (or replaces) a file.
    pub fn put(&mut self, file: StoredFile) -> &StoredFile {
        let id = file.id.clone();
        self.items.insert(id.clone(), file);
        &self.items[&id]
    }

    /// A file by id.
    pub fn get(&self, id: &str) -> Option<&StoredFile> {
        self.items.get(id)
    }

    /// Files whose id starts with `prefix`, in id order.
    pub fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = &'a StoredFile> + 'a {
        self.items.range(prefix.to_string()..).take_while(move |(k, _)| k.starts_with(prefix)).map(|(_, f)| f)
    }

    /// Every file, in id order.
    pub fn all(&self) -> impl Iterator<Item = &StoredFile> {
        self.items.values()
    }

    /// Removes a file.
    pub fn remove(&mut self, id: &str) -> Option<StoredFile> {
        self.items.remove(id)
    }
}

/// The platform's storage path of an uploaded file: `import/global/<name>`, or
/// `import/<Entity-Type>/<internal id>/<name>` for an entity's file, or
/// `import/pending/<name>` for a workbench. Only the base name of `filename` is kept
/// (pycti sends workbench names with slashes).
pub fn import_path(filename: &str, entity: Option<(&str, &str)>, pending: bool) -> String {
    let name = base_name(filename);
    match (pending, entity) {
        (true, _) => format!("import/pending/{name}"),
        (false, Some((entity_type, id))) => format!("import/{entity_type}/{id}/{name}"),
        (false, None) => format!("import/global/{name}"),
    }
}

/// The MIME type the platform gives a stored file: guessed from the extension of its name
/// (the platform's `guessMimeType`: the `mime-types` table, then `app:filename_to_mimes`
/// for YARA), whatever the upload's own content type; `application/octet-stream` when
/// the extension says nothing.
pub fn guess_mime(name: &str) -> String {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "json" => "application/json",
        "txt" | "text" => "text/plain",
        "csv" => "text/csv",
        "pdf" => "application/pdf",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "md" | "markdown" => "text/markdown",
        "yar" | "yara" => "text/yara+plain",
        "ods" => "application/vnd.oasis.opendocument.spreadsheet",
        "zip" => "application/zip",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
    .to_string()
}

/// The extension the platform gives an export of MIME type `format`
/// (`mime.extension(format)` — mime-db's first extension — then the platform's
/// `specialTypesExtensions` for the STIX and MITRE Navigator types, else `unknown`).
///
/// The table holds the types export connectors declare and the ones [`guess_mime`] knows;
/// a type outside it gets `unknown`, as a type outside mime-db does on the platform.
pub fn export_extension(format: &str) -> &'static str {
    match format.trim().to_ascii_lowercase().as_str() {
        "application/json" => "json",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "application/pdf" => "pdf",
        "text/html" => "html",
        "application/xml" | "text/xml" => "xml",
        "text/markdown" => "md",
        "application/vnd.oasis.opendocument.spreadsheet" => "ods",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/zip" => "zip",
        "image/png" => "png",
        "image/jpeg" => "jpeg",
        "image/gif" => "gif",
        "image/svg+xml" => "svg",
        "application/vnd.oasis.stix+json" | "application/vnd.mitre.navigator+json" => "json",
        _ => "unknown",
    }
}

/// A file name as the platform stores it: the stem cut to 200 characters and the
/// extension to 10, without an ellipsis (`truncate` in the platform's `format.js`).
pub fn stored_name(name: &str) -> String {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
        _ => (name, None),
    };
    let stem: String = stem.chars().take(200).collect();
    match ext {
        Some(ext) => format!("{stem}.{}", ext.chars().take(10).collect::<String>()),
        None => stem,
    }
}

/// The last path segment of a file name.
pub fn base_name(filename: &str) -> &str {
    filename.rsplit(['/', '\\']).next().unwrap_or(filename)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mime_type_comes_from_the_extension() {
        assert_eq!(guess_mime("2026_TLP:ALL_(ExportFileStix)_Report-x_full.json"), "application/json");
        assert_eq!(guess_mime("rules.YAR"), "text/yara+plain");
        assert_eq!(guess_mime("export.unknown"), "application/octet-stream");
        assert_eq!(guess_mime("no-extension"), "application/octet-stream");
    }

    #[test]
    fn stored_names_are_cut_like_the_platforms() {
        let long = format!("{}.{}", "s".repeat(250), "e".repeat(12));
        assert_eq!(stored_name(&long), format!("{}.{}", "s".repeat(200), "e".repeat(10)));
        assert_eq!(stored_name("a.csv"), "a.csv");
        assert_eq!(stored_name("plain"), "plain");
    }

    #[test]
    fn paths_follow_the_platform() {
        assert_eq!(import_path("a.json", None, false), "import/global/a.json");
        assert_eq!(import_path("import/global/a.json", None, true), "import/pending/a.json");
        assert_eq!(import_path("r.pdf", Some(("Report", "1234")), false), "import/Report/1234/r.pdf");
    }

    #[test]
    fn under_lists_a_prefix_only() {
        let mut files = Files::default();
        for id in ["import/global/a", "import/pending/b", "import/globalx", "export/c"] {
            files.put(StoredFile {
                id: id.into(),
                name: base_name(id).into(),
                mime_type: "text/plain".into(),
                size: 0,
                markings: vec![],
                entity_id: None,
                uploaded_by: None,
                last_modified: Utc::now(),
                metadata: Default::default(),
                content: Bytes::new(),
            });
        }
        let ids: Vec<_> = files.under("import/global/").map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["import/global/a"]);
    }
}
