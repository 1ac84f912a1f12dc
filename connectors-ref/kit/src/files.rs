//! Files: what import connectors download and export connectors upload.
//!
//! Downloads go through [`crate::Client::fetch_file`] with the connector's token (the
//! platform's storage refuses anonymous requests). Uploads are GraphQL multipart calls:
//! an export to its entity (`exportPush`) or to a list (`stixCoreObjectsExportPush`),
//! always with the job's file markings, which the platform gives the file only when the
//! connector sends them back; a workbench for a user to validate (`uploadPending`).

use serde_json::{Value, json};

use crate::client::{Client, Upload};
use crate::error::Result;

/// A file to upload.
#[derive(Debug, Clone)]
pub struct FileOut {
    /// Its name.
    pub name: String,
    /// Its MIME type.
    pub mime: String,
    /// Its content.
    pub data: Vec<u8>,
}

impl FileOut {
    fn upload(self) -> Upload {
        Upload { variable: "file".into(), name: self.name, mime: self.mime, data: self.data }
    }
}

impl Client {
    /// Pushes an export of one entity (`stixDomainObjectEdit.exportPush`).
    pub async fn push_entity_export(&self, entity_id: &str, file: FileOut, file_markings: &[String]) -> Result<()> {
        self.upload(
            "mutation StixDomainObjectEdit($id: ID!, $file: Upload!, $file_markings: [String]!) {
              stixDomainObjectEdit(id: $id) { exportPush(file: $file, file_markings: $file_markings) }
            }",
            json!({ "id": entity_id, "file_markings": file_markings }),
            vec![file.upload()],
        )
        .await
        .map(drop)
    }

    /// Pushes an export of a list (`stixCoreObjectsExportPush`): `list_filters` is
    /// `selected_ids` for a selection, the list's parameters (JSON) for a query.
    pub async fn push_list_export(
        &self,
        entity_id: Option<&str>,
        entity_type: &str,
        file: FileOut,
        file_markings: &[String],
        list_filters: &str,
    ) -> Result<()> {
        self.upload(
            "mutation StixCoreObjectsExportPush($entity_id: String, $entity_type: String!, $file: Upload!, $file_markings: [String]!, $listFilters: String) {
              stixCoreObjectsExportPush(entity_id: $entity_id, entity_type: $entity_type, file: $file, file_markings: $file_markings, listFilters: $listFilters)
            }",
            json!({ "entity_id": entity_id, "entity_type": entity_type, "file_markings": file_markings, "listFilters": list_filters }),
            vec![file.upload()],
        )
        .await
        .map(drop)
    }

    /// Uploads a workbench (`uploadPending`) for a user to validate; returns the file's id.
    pub async fn upload_pending(&self, file: FileOut, entity_id: Option<&str>, file_markings: &[String]) -> Result<Value> {
        let data = self
            .upload(
                "mutation UploadPending($file: Upload!, $entityId: String, $file_markings: [String!]) {
                  uploadPending(file: $file, entityId: $entityId, file_markings: $file_markings) { id name }
                }",
                json!({ "entityId": entity_id, "file_markings": file_markings }),
                vec![file.upload()],
            )
            .await?;
        Ok(data["uploadPending"]["id"].clone())
    }
}
