//! What the gate sends a job connector, made for the scope it registered: entities of the
//! types it enriches, files of the MIME types it imports.
//!
//! A gate with fixed fixtures blocks every connector whose scope holds none of them (a
//! vulnerability enricher sent IP addresses, a PDF importer sent JSON) and then blames
//! the connector. So the plan (`crate::conform::jobs`) reads the registered scope and asks
//! here for what fits: [`entity`] builds a STIX object of a scope's type (the names the
//! platform and connectors use: `IPv4-Addr`, `ipv4-addr`, `Report`, `Organization`…),
//! [`file()`] a file of a MIME type — a STIX bundle for JSON, text with indicators for text
//! types, a one-page PDF, a Word document, a STIX 1.2 package for XML, a YARA rule — valid
//! or corrupt; [`export_knowledge`] is what export connectors are asked about. A user can give a sample of a
//! format the gate cannot make (a MISP event) with `--sample-file MIME=PATH`.

use serde_json::{Value, json};

/// A STIX bundle a STIX importer reads.
const STIX_FEED: &str = include_str!("../../fixtures/conformance/import-feed.json");
/// The same with other objects, imported after validation.
const STIX_REVIEW: &str = include_str!("../../fixtures/conformance/import-workbench.json");
/// A truncated STIX bundle.
const STIX_CORRUPT: &str = include_str!("../../fixtures/conformance/import-corrupt.json");
/// The knowledge export connectors are asked about (see [`export_knowledge`]).
const EXPORT_KNOWLEDGE: &str = include_str!("../../fixtures/conformance/export-knowledge.json");
/// The report of [`export_knowledge`].
pub const EXPORT_REPORT: &str = "report--9f8e7d6c-5b4a-4392-8170-6f5e4d3c2ba5";
/// Its TLP:GREEN malware.
pub const EXPORT_MALWARE: &str = "malware--4f7a1c2e-5b3d-4e8f-9a0b-1c2d3e4f5a61";
/// What an ask limited to TLP:GREEN must not get, `(STIX id, name)`: its TLP:RED malware,
/// and the TLP:RED attack pattern its TLP:GREEN malware uses.
pub const EXPORT_ABOVE_MAX: &[(&str, &str)] = &[
    ("malware--8b1e2d3c-4a5f-4b6e-8d7c-9e0f1a2b3c72", "Quillrot"),
    ("attack-pattern--7e6f5a4b-3c2d-4e1f-8a9b-0c1d2e3f4a87", "Exploit Public-Facing Application"),
];
/// What a user cleared for every TLP marking and no PAP one may not see, `(STIX id,
/// name)`: its PAP:RED malware, and the PAP:RED attack pattern its TLP:GREEN malware uses
/// — what the ask's `access_filter` does not exclude (the platform adds the markings of a
/// type the user cannot share only when it excludes something), so only reading as that
/// user keeps it out.
pub const EXPORT_HIDDEN: &[(&str, &str)] = &[
    ("malware--2e3f4a5b-6c7d-4e8f-9a0b-1c2d3e4f5ab6", "Vexhollow"),
    ("attack-pattern--3f4a5b6c-7d8e-4f9a-8b0c-1d2e3f4a5bc7", "Trusted Relationship"),
];
/// The PAP:RED `uses` from the TLP:GREEN malware to the PAP:RED attack pattern.
const EXPORT_HIDDEN_USES: &str = "relationship--4a5b6c7d-8e9f-4a0b-9c1d-2e3f4a5b6cd8";

/// The knowledge export connectors are asked about: a report on a TLP:GREEN malware that
/// uses a TLP:GREEN, a TLP:RED and a PAP:RED attack pattern, a malware marked TLP:RED and
/// one marked PAP:RED ([`EXPORT_ABOVE_MAX`], [`EXPORT_HIDDEN`]) — the report holds all
/// three malware.
pub fn export_knowledge() -> String {
    let mut bundle: Value = serde_json::from_str(EXPORT_KNOWLEDGE).expect("the export knowledge fixture is JSON");
    let pap_red = crate::stix::markings::built_in_objects()
        .into_iter()
        .find(|m| m["name"] == "PAP:RED")
        .and_then(|m| m["id"].as_str().map(str::to_string))
        .expect("PAP:RED is built in");
    let at = "2026-10-01T00:00:00.000Z";
    let (malware, pattern) = (EXPORT_HIDDEN[0], EXPORT_HIDDEN[1]);
    let hidden = json!({"type": "malware", "spec_version": "2.1", "id": malware.0, "name": malware.1,
        "is_family": true, "created": at, "modified": at,
        "description": "A PAP:RED malware: only users cleared for PAP markings may see it.",
        "object_marking_refs": [pap_red]});
    let hidden_pattern = json!({"type": "attack-pattern", "spec_version": "2.1", "id": pattern.0, "name": pattern.1,
        "x_mitre_id": "T1199", "created": at, "modified": at, "object_marking_refs": [pap_red]});
    let hidden_uses = json!({"type": "relationship", "spec_version": "2.1", "id": EXPORT_HIDDEN_USES,
        "relationship_type": "uses", "source_ref": EXPORT_MALWARE, "target_ref": pattern.0,
        "created": at, "modified": at, "object_marking_refs": [pap_red]});
    if let Some(objects) = bundle["objects"].as_array_mut() {
        for o in objects.iter_mut().filter(|o| o["id"] == EXPORT_REPORT) {
            if let Some(refs) = o["object_refs"].as_array_mut() {
                refs.push(json!(malware.0));
            }
        }
        // Before what refers to them; the relationship after the malware it starts from.
        objects.insert(0, hidden_pattern);
        objects.insert(0, hidden);
        objects.push(hidden_uses);
    }
    bundle.to_string()
}

/// The STIX type (and the properties fixing the OpenCTI entity type) of a scope entry, if
/// the gate can build an entity of it.
fn stix_type_of(scope_entry: &str) -> Option<(&'static str, Value)> {
    let t = scope_entry.trim().to_ascii_lowercase();
    let found = match t.as_str() {
        "ipv4-addr" => ("ipv4-addr", json!({})),
        "ipv6-addr" => ("ipv6-addr", json!({})),
        "domain-name" => ("domain-name", json!({})),
        "hostname" => ("hostname", json!({})),
        "url" => ("url", json!({})),
        "email-addr" => ("email-addr", json!({})),
        "mac-addr" => ("mac-addr", json!({})),
        "user-agent" => ("user-agent", json!({})),
        "mutex" => ("mutex", json!({})),
        "autonomous-system" => ("autonomous-system", json!({})),
        "stixfile" | "file" => ("file", json!({})),
        "report" => ("report", json!({})),
        "malware" => ("malware", json!({})),
        "tool" => ("tool", json!({})),
        "vulnerability" => ("vulnerability", json!({})),
        "attack-pattern" => ("attack-pattern", json!({})),
        "campaign" => ("campaign", json!({})),
        "intrusion-set" => ("intrusion-set", json!({})),
        "threat-actor" | "threat-actor-group" => ("threat-actor", json!({"resource_level": "organization"})),
        "threat-actor-individual" => ("threat-actor", json!({"resource_level": "individual"})),
        "indicator" => ("indicator", json!({})),
        "infrastructure" => ("infrastructure", json!({})),
        "incident" => ("incident", json!({})),
        "course-of-action" => ("course-of-action", json!({})),
        "organization" | "identity" => ("identity", json!({"identity_class": "organization"})),
        "individual" => ("identity", json!({"identity_class": "individual"})),
        "sector" => ("identity", json!({"identity_class": "class"})),
        "system" => ("identity", json!({"identity_class": "system"})),
        "country" => ("location", json!({"x_opencti_location_type": "Country", "country": "FR"})),
        "city" => ("location", json!({"x_opencti_location_type": "City"})),
        "region" => ("location", json!({"x_opencti_location_type": "Region", "region": "europe"})),
        _ => return None,
    };
    Some(found)
}

/// Whether the gate can build an entity for a scope entry.
pub fn can_build(scope_entry: &str) -> bool {
    stix_type_of(scope_entry).is_some()
}

/// Whether two scope entries name the same STIX type (`IPv4-Addr` and `ipv4-addr`).
pub fn same_type(a: &str, b: &str) -> bool {
    match (stix_type_of(a), stix_type_of(b)) {
        (Some((x, _)), Some((y, _))) => x == y,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// The `n`-th distinct entity of a scope entry's type (a value or name of its own, so
/// each has its own standard id), marked with `markings`; `None` for a type the gate
/// cannot build.
pub fn entity(scope_entry: &str, n: u32, markings: &[&str]) -> Option<Value> {
    let (stix_type, extra) = stix_type_of(scope_entry)?;
    let id = format!("{stix_type}--{}", uuid::Uuid::new_v4());
    let dated = |mut o: Value| {
        o["created"] = json!("2026-01-01T00:00:00.000Z");
        o["modified"] = json!("2026-01-01T00:00:00.000Z");
        o
    };
    let mut o = match stix_type {
        "ipv4-addr" => json!({"value": format!("198.51.100.{}", 10 + n % 200)}),
        "ipv6-addr" => json!({"value": format!("2001:db8::{:x}", 16 + n)}),
        "domain-name" => json!({"value": format!("c2-{n}.example.com")}),
        "hostname" => json!({"value": format!("host-{n}.example.org")}),
        "url" => json!({"value": format!("http://downloads.example.com/payload-{n}.bin")}),
        "email-addr" => json!({"value": format!("phisher-{n}@example.com")}),
        "mac-addr" => json!({"value": format!("00:00:5e:00:53:{:02x}", n % 256)}),
        "user-agent" => json!({"value": format!("ExampleBot/{n}.0")}),
        "mutex" => json!({"name": format!("Global\\ExampleMutex{n}")}),
        "autonomous-system" => json!({"number": 64_500 + n, "name": format!("EXAMPLE-AS-{n}")}),
        "file" => {
            json!({"name": format!("dropper-{n}.exe"), "hashes": {"SHA-256": format!("{:064x}", 0xabcdef00u64 + u64::from(n))}})
        }
        "vulnerability" => dated(json!({"name": format!("CVE-2024-{}", 3400 + n)})),
        "indicator" => dated(json!({"name": format!("C2 address {n}"), "pattern_type": "stix",
            "pattern": format!("[ipv4-addr:value = '203.0.113.{}']", 10 + n % 200), "valid_from": "2026-01-01T00:00:00.000Z"})),
        "malware" => dated(json!({"name": format!("ExampleBot {n}"), "is_family": true})),
        "report" => dated(json!({"name": format!("Example campaign report {n}"), "published": "2026-01-01T00:00:00.000Z",
            "description": "Campaign using c2.example.com and 198.51.100.7 (CVE-2024-3400)."})),
        _ => dated(json!({"name": format!("Example {stix_type} {n}")})),
    };
    o["type"] = json!(stix_type);
    o["spec_version"] = json!("2.1");
    o["id"] = json!(id);
    if let (Some(map), Some(extra)) = (o.as_object_mut(), extra.as_object()) {
        map.extend(extra.clone());
    }
    if !markings.is_empty() {
        o["object_marking_refs"] = json!(markings);
    }
    Some(o)
}

/// Which of a file's forms a job is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// A file a connector of that format reads.
    Valid,
    /// Another valid one (for the validation jobs).
    Review,
    /// One a connector of that format cannot parse.
    Corrupt,
}

/// A file of a MIME type the gate can make: its name and content; `None` when it cannot
/// (or, for [`Form::Corrupt`], when every file of that type is readable, as text is).
pub fn file(mime: &str, form: Form) -> Option<(String, Vec<u8>)> {
    let mime = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (ext, valid, review, corrupt): (&str, Vec<u8>, Vec<u8>, Option<Vec<u8>>) = match mime.as_str() {
        "application/json" | "application/stix+json" | "text/json" => {
            ("json", STIX_FEED.into(), STIX_REVIEW.into(), Some(STIX_CORRUPT.into()))
        }
        "text/plain" => ("txt", text_report(1).into_bytes(), text_report(2).into_bytes(), None),
        "text/markdown" => (
            "md",
            format!("# Threat report\n\n{}", text_report(1)).into_bytes(),
            format!("# Review\n\n{}", text_report(2)).into_bytes(),
            None,
        ),
        "text/csv" => ("csv", csv(1).into_bytes(), csv(2).into_bytes(), None),
        "text/html" => ("html", html(1).into_bytes(), html(2).into_bytes(), None),
        "application/pdf" => (
            "pdf",
            pdf(&text_report(1)),
            pdf(&text_report(2)),
            Some(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Cat".to_vec()),
        ),
        "text/xml" | "application/xml" => (
            "xml",
            stix1_package(1).into_bytes(),
            stix1_package(2).into_bytes(),
            Some(stix1_package(3).as_bytes()[..400].to_vec()),
        ),
        DOCX => {
            let valid = docx(&text_report(1));
            let corrupt = valid[..valid.len() / 2].to_vec();
            ("docx", valid, docx(&text_report(2)), Some(corrupt))
        }
        "text/yara+plain" => (
            "yar",
            yara("ExampleBot_Loader").into_bytes(),
            yara("ReviewedBot_Stager").into_bytes(),
            Some(b"rule broken_rule {\n  strings:\n    $a = \"unterminated\n".to_vec()),
        ),
        _ => return None,
    };
    let (stem, content) = match form {
        Form::Valid => ("conformance-sample", valid),
        Form::Review => ("conformance-review", review),
        Form::Corrupt => ("conformance-corrupt", corrupt?),
    };
    Some((format!("{stem}.{ext}"), content))
}

fn text_report(n: u32) -> String {
    let ip = 7 + n;
    format!(
        "Threat report {n}: the ExampleBot malware family used the command and control server c2-{n}.example.com \
         (198.51.100.{ip}) and exploited CVE-2024-3400. A dropper with SHA-256 \
         e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 was downloaded from \
         http://downloads.example.com/payload-{n}.bin. Intrusion set: APT-Example.\n"
    )
}

fn csv(n: u32) -> String {
    format!(
        "type,value,description\nipv4-addr,198.51.100.{},ExampleBot C2\ndomain-name,c2-{n}.example.com,ExampleBot C2\n\
         url,http://downloads.example.com/payload-{n}.bin,dropper\n",
        7 + n
    )
}

fn html(n: u32) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>Threat report {n}</title></head><body><h1>Threat report {n}</h1><p>{}</p></body></html>\n",
        text_report(n)
    )
}

fn yara(name: &str) -> String {
    format!(
        "rule {name}\n{{\n  meta:\n    description = \"ExampleBot loader\"\n  strings:\n    $a = \"ExampleBot\" ascii\n    $b = {{ 6A 40 68 00 30 00 00 }}\n  condition:\n    any of them\n}}\n"
    )
}

/// The MIME type of a Word document.
const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

/// A STIX 1.2 package (the XML format of threat intelligence, which STIX importers convert):
/// one indicator watching an IPv4 address.
fn stix1_package(n: u32) -> String {
    let ip = 7 + n;
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<stix:STIX_Package
    xmlns:stix="http://stix.mitre.org/stix-1"
    xmlns:indicator="http://stix.mitre.org/Indicator-2"
    xmlns:cybox="http://cybox.mitre.org/cybox-2"
    xmlns:AddressObj="http://cybox.mitre.org/objects#AddressObject-2"
    xmlns:example="http://example.com"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    id="example:Package-6f1d2c3b-0000-4000-8000-00000000000{n}" version="1.2" timestamp="2026-01-01T00:00:00Z">
  <stix:STIX_Header>
    <stix:Title>Threat report {n}</stix:Title>
  </stix:STIX_Header>
  <stix:Indicators>
    <stix:Indicator xsi:type="indicator:IndicatorType" id="example:indicator-6f1d2c3b-0001-4000-8000-00000000000{n}" timestamp="2026-01-01T00:00:00Z">
      <indicator:Title>ExampleBot command and control server 198.51.100.{ip}</indicator:Title>
      <indicator:Observable id="example:Observable-6f1d2c3b-0002-4000-8000-00000000000{n}">
        <cybox:Object id="example:Address-6f1d2c3b-0003-4000-8000-00000000000{n}">
          <cybox:Properties xsi:type="AddressObj:AddressObjectType" category="ipv4-addr">
            <AddressObj:Address_Value condition="Equals">198.51.100.{ip}</AddressObj:Address_Value>
          </cybox:Properties>
        </cybox:Object>
      </indicator:Observable>
    </stix:Indicator>
  </stix:Indicators>
</stix:STIX_Package>
"#
    )
}

/// A Word document (Office Open XML) of one paragraph showing `text`: the three parts a
/// reader needs, stored uncompressed, with the zip format's fixed 1980 dates so the bytes
/// are the same at every run.
fn docx(text: &str) -> Vec<u8> {
    use std::io::Write;
    let escaped = text.trim_end().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#
                .to_string(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>"#
                .to_string(),
        ),
        (
            "word/document.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{escaped}</w:t></w:r></w:p></w:body></w:document>"#
            ),
        ),
    ];
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in parts {
        // Writing to memory cannot fail.
        zip.start_file(name, options).expect("a zip entry in memory");
        zip.write_all(content.as_bytes()).expect("a zip entry in memory");
    }
    zip.finish().expect("a zip in memory").into_inner()
}

/// A one-page PDF showing `text`, with a correct cross-reference table.
fn pdf(text: &str) -> Vec<u8> {
    let escaped: String = text
        .chars()
        .filter(|c| c.is_ascii() && *c != '\n')
        .collect::<String>()
        .replace('\\', "\\\\")
        .replace('(', "\\(")
        .replace(')', "\\)");
    let stream = format!("BT /F1 10 Tf 40 780 Td ({escaped}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_string(),
        format!("<< /Length {} >>\nstream\n{stream}\nendstream", stream.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_string(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_of_the_names_connectors_declare_are_distinct_and_typed() {
        let a = entity("IPv4-Addr", 1, &[]).unwrap();
        let b = entity("ipv4-addr", 2, &["marking-definition--x"]).unwrap();
        assert_eq!(a["type"], "ipv4-addr");
        assert_ne!(a["value"], b["value"]);
        assert_eq!(b["object_marking_refs"][0], "marking-definition--x");
        assert_eq!(entity("Organization", 1, &[]).unwrap()["identity_class"], "organization");
        assert_eq!(entity("vulnerability", 1, &[]).unwrap()["name"], "CVE-2024-3401");
        assert!(entity("x-custom-thing", 1, &[]).is_none());
        assert!(same_type("Domain-Name", "domain-name") && !same_type("Report", "Malware"));
    }

    #[test]
    fn files_exist_for_json_text_pdf_and_yara_and_only_structured_ones_can_be_corrupt() {
        for mime in [
            "application/json",
            "text/plain",
            "text/csv",
            "text/html",
            "text/markdown",
            "application/pdf",
            "text/yara+plain",
            "text/xml",
            DOCX,
        ] {
            let (name, content) = file(mime, Form::Valid).unwrap_or_else(|| panic!("{mime}"));
            assert!(!content.is_empty() && name.starts_with("conformance-sample."), "{mime}");
            assert!(file(mime, Form::Review).is_some());
        }
        assert!(file("text/plain", Form::Corrupt).is_none(), "any text is readable");
        assert!(file("application/json", Form::Corrupt).is_some());
        assert!(file("application/vnd.ms-excel", Form::Valid).is_none());
        let (_, pdf) = file("application/pdf", Form::Valid).unwrap();
        let text = String::from_utf8_lossy(&pdf);
        let xref: usize = text.rsplit("startxref\n").next().unwrap().lines().next().unwrap().parse().unwrap();
        assert!(text[xref..].starts_with("xref"), "the PDF's startxref points at its xref table");
        let (_, docx) = file(DOCX, Form::Valid).unwrap();
        assert_eq!(docx, file(DOCX, Form::Valid).unwrap().1, "the same bytes at every run");
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(docx)).expect("a zip");
        let mut document = String::new();
        std::io::Read::read_to_string(&mut archive.by_name("word/document.xml").unwrap(), &mut document).unwrap();
        assert!(document.contains("c2-1.example.com"), "{document}");
        assert!(zip::ZipArchive::new(std::io::Cursor::new(file(DOCX, Form::Corrupt).unwrap().1)).is_err());
    }
}
