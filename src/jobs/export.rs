//! What export connectors hand back: the files of `exportPush` and of the list pushes
//! (`stixCoreObjectsExportPush` and its kin), stored as the platform stores them
//! (`export.md` §3 next to this file).
//!
//! - A file lands in its folder (`export/<entity type>/<entity id>` for one entity,
//!   `export/<entity type>[/<entity id>]` for a list) under its name with the stem cut
//!   to 200 characters and the extension to 10; its storage key lower-cases that name,
//!   its `name` keeps the case.
//! - Its MIME type is guessed from the name's extension, whatever the upload said (so a
//!   STIX export is stored as `application/json`).
//! - File markings given by standard id are kept by internal id, unknown ones as given.
//! - A list push keeps its `listFilters` in the file's metadata (`list_filters`).
//! - Nothing else happens: no import is triggered and the work is not touched (the
//!   connector closes it with `toProcessed`).

use bytes::Bytes;

use crate::store::Store;
use crate::store::files::{StoredFile, guess_mime, stored_name};

/// A file an export connector pushed.
#[derive(Debug, Clone)]
pub struct ExportFile {
    /// The folder: `export/<entity type>[/<entity id>]`.
    pub folder: String,
    /// The multipart file name.
    pub filename: String,
    /// The content.
    pub content: Bytes,
    /// `file_markings`, as given (any id of each marking definition).
    pub markings: Vec<String>,
    /// The entity it belongs to (internal id), if any.
    pub entity_id: Option<String>,
    /// A list push's `listFilters`.
    pub list_filters: Option<String>,
    /// The pushing user.
    pub uploaded_by: Option<String>,
}

/// The folder of an export: `export/<entity type>`, then the entity id when there is one.
pub fn folder(entity_type: &str, entity_id: Option<&str>) -> String {
    match entity_id.filter(|id| !id.is_empty()) {
        Some(id) => format!("export/{entity_type}/{id}"),
        None => format!("export/{entity_type}"),
    }
}

/// Stores an exported file (replacing one with the same key) and returns it.
pub fn store_export(store: &Store, file: ExportFile) -> StoredFile {
    let now = store.clock().now();
    store.write(|s| {
        let name = stored_name(crate::store::files::base_name(&file.filename));
        let markings = file
            .markings
            .iter()
            .map(|m| s.knowledge.get(m).map_or_else(|| m.clone(), |o| o.internal_id.to_string()))
            .collect();
        let mut metadata = serde_json::Map::new();
        if let Some(filters) = file.list_filters {
            metadata.insert("list_filters".into(), serde_json::Value::String(filters));
        }
        let stored = StoredFile {
            id: format!("{}/{}", file.folder, name.to_lowercase()),
            mime_type: guess_mime(&name),
            name,
            size: file.content.len() as u64,
            markings,
            entity_id: file.entity_id,
            uploaded_by: file.uploaded_by,
            last_modified: now,
            metadata,
            content: file.content,
        };
        s.files.put(stored).clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Clock;

    fn export(folder: &str, name: &str) -> ExportFile {
        ExportFile {
            folder: folder.into(),
            filename: name.into(),
            content: Bytes::from_static(b"{}"),
            markings: vec!["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9".into(), "unknown-marking".into()],
            entity_id: Some("3b1d0c8e-0000-4000-8000-000000000001".into()),
            list_filters: None,
            uploaded_by: None,
        }
    }

    #[test]
    fn an_export_is_stored_under_its_folder_by_lower_cased_name_with_the_type_of_its_extension() {
        let retention = crate::config::Settings::default().transcript_retention().expect("default retention parses");
        let store = Store::new(crate::profile::Profile::V7, "admin", Clock::system(), retention);
        crate::ingest::seed_built_ins(&store).expect("the built-in markings are stored");
        let folder = folder("Report", Some("3b1d0c8e-0000-4000-8000-000000000001"));

        let file = store_export(&store, export(&folder, "2026-10-27T09:15:02.114Z_TLP:ALL_(Export)_Report-Op Foo_simple.JSON"));

        assert_eq!(
            file.id,
            "export/Report/3b1d0c8e-0000-4000-8000-000000000001/2026-10-27t09:15:02.114z_tlp:all_(export)_report-op foo_simple.json"
        );
        assert_eq!(file.name, "2026-10-27T09:15:02.114Z_TLP:ALL_(Export)_Report-Op Foo_simple.JSON");
        assert_eq!(file.mime_type, "application/json");
        let white = store.read(|s| s.knowledge.get("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9").map(|o| o.internal_id));
        assert_eq!(file.markings, [white.expect("TLP:CLEAR is built in").to_string(), "unknown-marking".to_string()]);
        assert!(store.read(|s| s.files.get(&file.id).is_some()));
    }

    #[test]
    fn list_exports_go_to_the_type_folder_without_an_entity() {
        assert_eq!(folder("Malware", None), "export/Malware");
        assert_eq!(folder("Stix-Core-Object", Some("")), "export/Stix-Core-Object");
        assert_eq!(folder("Report", Some("r1")), "export/Report/r1");
    }
}
