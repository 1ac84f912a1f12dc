//! The case, task and late domain types of the entity API (case incidents, RFIs, RFTs,
//! feedbacks, tasks, malware analyses, channels, narratives, languages, events, data
//! components and sources, security coverages and their results): the standard ids they
//! are created under, a connector bundle holding them, the task's root edits, and how the
//! inputs with references or other names are stored and answered.

mod common;

use std::time::Duration;

use common::{BUNDLE_PUSH, REGISTER, TO_PROCESSED, WORK_ADD, gql, registration};
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const CREATED: &str = "2024-03-01T10:00:00.000Z";

async fn call(p: &MockPlatform, query: &str, variables: Value) -> Value {
    gql(p.url(), Some(p.token()), query, variables).await.1
}

/// `xAdd(input)` answering `{id standard_id entity_type}`; fails the test on an error.
async fn add(p: &MockPlatform, field: &str, input_type: &str, input: Value) -> Value {
    let doc = format!("mutation A($input: {input_type}!) {{ {field}(input: $input) {{ id standard_id entity_type }} }}");
    let body = call(p, &doc, json!({"input": input})).await;
    assert!(body["errors"].is_null(), "{field} failed: {body}");
    body["data"][field].clone()
}

#[tokio::test]
async fn created_objects_get_the_standard_ids_pycti_computes() {
    // Arrange: (root field, input type, input, pycti 7.261026.0's generate_id of the same data:
    // CaseIncident.generate_id("IR-42 Emotet", CREATED), ..., SecurityCoverage.generate_id(
    // IntrusionSet.generate_id("APT28")), SecurityCoverageResult.generate_id("APT28 run",
    // "https://bas.example/runs/1", <that coverage>)).
    let p = MockPlatform::start().await;
    let apt = add(&p, "intrusionSetAdd", "IntrusionSetAddInput", json!({"name": "APT28"})).await;
    assert_eq!(apt["standard_id"], "intrusion-set--f743ab1d-b2f2-58f8-975f-0993511c0b9d");
    let cases = [
        (
            "caseIncidentAdd",
            "CaseIncidentAddInput",
            json!({"name": "IR-42 Emotet", "created": CREATED}),
            "case-incident--c4c51776-5944-54f6-8e9d-835e92f3ed63",
        ),
        (
            "caseRfiAdd",
            "CaseRfiAddInput",
            json!({"name": "RFI-7 Sandworm", "created": CREATED}),
            "case-rfi--d5d6477a-9b2d-5bc8-8188-ed53af846f39",
        ),
        (
            "caseRftAdd",
            "CaseRftAddInput",
            json!({"name": "RFT-3 phishing domain", "created": CREATED}),
            "case-rft--cd01b0cc-e68d-58a9-afae-2ba5b2c96d05",
        ),
        (
            "feedbackAdd",
            "FeedbackAddInput",
            json!({"name": "Feedback on Emotet"}),
            "feedback--bfea1209-0fb0-557e-911c-f37373dcfc8b",
        ),
        (
            "taskAdd",
            "TaskAddInput",
            json!({"name": "Isolate the host", "created": CREATED}),
            "task--a2aca601-d49b-5328-b65d-e9cbb248b010",
        ),
        (
            "malwareAnalysisAdd",
            "MalwareAnalysisAddInput",
            json!({"result_name": "Trojan.Emotet", "product": "Joe Sandbox", "submitted": CREATED}),
            "malware-analysis--1a096176-df85-54cf-9fc4-83cdf6966b9a",
        ),
        ("channelAdd", "ChannelAddInput", json!({"name": "t.me/evil"}), "channel--dd1aa72d-bed4-5cb1-ac9a-5b9ac3a97f25"),
        (
            "narrativeAdd",
            "NarrativeAddInput",
            json!({"name": "Election fraud"}),
            "narrative--4bbc3582-e46c-553f-ad17-1b52bd6db623",
        ),
        ("languageAdd", "LanguageAddInput", json!({"name": "Russian"}), "language--ac99ff5c-2c43-5292-a1ac-dc900481097f"),
        ("eventAdd", "EventAddInput", json!({"name": "Olympics 2024"}), "event--6b0032b1-f4e6-5f43-90fc-44dd284c0040"),
        (
            "dataComponentAdd",
            "DataComponentAddInput",
            json!({"name": "Process Creation"}),
            "data-component--156ce4db-a849-5c02-801c-46f3f8982759",
        ),
        ("dataSourceAdd", "DataSourceAddInput", json!({"name": "Process"}), "data-source--53557bb7-b757-5969-9d19-71da16231da0"),
        (
            "securityCoverageAdd",
            "SecurityCoverageAddInput",
            json!({"name": "Coverage of APT28", "objectCovered": apt["id"], "auto_enrichment_disable": false}),
            "security-coverage--042b8d4b-bd9b-5188-bc06-456977ef9fa1",
        ),
    ];

    // Act
    let mut got = Vec::new();
    for (field, input_type, input, _) in &cases {
        got.push(add(&p, field, input_type, input.clone()).await);
    }
    let result = add(
        &p,
        "securityCoverageResultAdd",
        "SecurityCoverageResultAddInput",
        json!({"name": "APT28 run", "external_uri": "https://bas.example/runs/1", "resultOf": got[12]["id"]}),
    )
    .await;

    // Assert
    for ((field, _, _, want), got) in cases.iter().zip(&got) {
        assert_eq!(got["standard_id"], *want, "{field}");
    }
    assert_eq!(result["standard_id"], "security-coverage-result--ef4f6b6c-ee18-5373-9ac6-b02ce29ab7c3");
    let types: Vec<&str> = got.iter().map(|g| g["entity_type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "Case-Incident",
            "Case-Rfi",
            "Case-Rft",
            "Feedback",
            "Task",
            "Malware-Analysis",
            "Channel",
            "Narrative",
            "Language",
            "Event",
            "Data-Component",
            "Data-Source",
            "Security-Coverage"
        ]
    );
}

const CASE: &str = "query C($id: String!) { caseIncident(id: $id) { id name severity response_types objects(all: true) { edges { node { ... on BasicObject { id entity_type } } } } tasks { edges { node { name due_date } } } } }";

#[tokio::test]
async fn a_connector_bundle_with_a_case_and_its_objects_is_stored_with_its_object_refs() {
    // Arrange
    let p = MockPlatform::builder().connector_user("connector-user", "tok-cases").start().await;
    let connector = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some("tok-cases"), REGISTER, registration(&connector, "Cases")).await;
    let (_, work) = gql(
        p.url(),
        Some("tok-cases"),
        WORK_ADD,
        json!({"connectorId": connector, "friendlyName": "run", "isMultiPartWork": false}),
    )
    .await;
    let work = work["data"]["workAdd"]["id"].as_str().unwrap().to_string();
    let malware = "malware--55899259-6b6d-581f-a9c9-420d4f1e6f98";
    let ip = "ipv4-addr--a675f66b-dec8-57eb-af6a-cbbb451ce265";
    let case = "case-incident--7476cbff-e374-545b-b818-5f5e2c5e11c7";
    let source = "x-mitre-data-source--7726429a-3563-5565-a305-7f49a2c05a58";
    let bundle = json!({"type": "bundle", "id": "bundle--0e1d2c3b-4a59-4687-9a6b-5c4d3e2f1a0b", "objects": [
        {"type": "malware", "spec_version": "2.1", "id": malware, "name": "Emotet", "is_family": true,
         "created": CREATED, "modified": CREATED},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": ip, "value": "198.51.100.7"},
        {"type": "case-incident", "spec_version": "2.1", "id": case, "created": CREATED, "modified": CREATED,
         "name": "IR-2024-0042", "severity": "high", "response_types": ["malware"], "object_refs": [malware, ip]},
        {"type": "task", "spec_version": "2.1", "id": "task--780efbc0-1f88-5a23-9672-b87b8f699869", "created": CREATED,
         "modified": CREATED, "name": "Collect proxy logs", "due_date": "2024-05-17T17:00:00.000Z", "object_refs": [case]},
        {"type": "x-mitre-data-source", "spec_version": "2.1", "id": source, "created": CREATED, "modified": CREATED,
         "name": "Process", "x_mitre_platforms": ["Windows"]},
        {"type": "x-mitre-data-component", "spec_version": "2.1", "id": "x-mitre-data-component--2778d6ab-f174-5291-bb72-3dfed2d01fff",
         "created": CREATED, "modified": CREATED, "name": "Process Creation", "x_mitre_data_source_ref": source},
    ]});

    // Act
    let (_, pushed) = gql(
        p.url(),
        Some("tok-cases"),
        BUNDLE_PUSH,
        json!({"connectorId": connector, "bundle": bundle.to_string(), "work_id": work}),
    )
    .await;
    gql(p.url(), Some("tok-cases"), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;
    let done = p.wait_for_work_complete(&work, Duration::from_secs(10)).await.expect("the work completes");
    let read = call(&p, CASE, json!({"id": case})).await;
    let as_domain_objects = call(
        &p,
        "query L($types: [String]) { stixDomainObjects(types: $types) { edges { node { __typename id } } } }",
        json!({"types": ["Case"]}),
    )
    .await;
    let as_core_object =
        call(&p, "query R($id: String!) { stixCoreObject(id: $id) { __typename entity_type } }", json!({"id": case})).await;
    let component = call(
        &p,
        "query D($id: String!) { dataComponent(id: $id) { name dataSource { name } } }",
        json!({"id": "x-mitre-data-component--2778d6ab-f174-5291-bb72-3dfed2d01fff"}),
    )
    .await;

    // Assert
    assert_eq!(pushed["data"]["stixBundlePush"], true, "{pushed}");
    assert_eq!((done.import_expected_number, done.completed_number), (6, 6));
    let stored = p.object(case).expect("the case is stored");
    let body: Value = serde_json::from_str(&stored.body).unwrap();
    let refs: Vec<&str> = body["object_refs"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
    assert_eq!(refs.len(), 2);
    for id in [malware, ip] {
        assert!(refs.contains(&p.object(id).expect("stored").standard_id.as_str()), "{refs:?} lacks {id}");
    }
    let c = &read["data"]["caseIncident"];
    assert_eq!((c["name"].as_str(), c["severity"].as_str()), (Some("IR-2024-0042"), Some("high")), "{read}");
    assert_eq!(c["response_types"], json!(["malware"]));
    let mut objects: Vec<&str> =
        c["objects"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["entity_type"].as_str().unwrap()).collect();
    objects.sort();
    assert_eq!(objects, ["IPv4-Addr", "Malware"]);
    assert_eq!(c["tasks"], json!({"edges": [{"node": {"name": "Collect proxy logs", "due_date": "2024-05-17T17:00:00.000Z"}}]}));
    assert_eq!(component["data"]["dataComponent"], json!({"name": "Process Creation", "dataSource": {"name": "Process"}}));
    assert_eq!(
        as_domain_objects["data"]["stixDomainObjects"]["edges"],
        json!([{"node": {"__typename": "CaseIncident", "id": c["id"]}}])
    );
    assert_eq!(as_core_object["data"]["stixCoreObject"], json!({"__typename": "CaseIncident", "entity_type": "Case-Incident"}));
}

#[tokio::test]
async fn tasks_are_patched_related_and_deleted_through_their_root_operations() {
    // Arrange
    let p = MockPlatform::start().await;
    let task = add(&p, "taskAdd", "TaskAddInput", json!({"name": "Isolate the host", "created": CREATED})).await;
    let malware = add(&p, "malwareAdd", "MalwareAddInput", json!({"name": "Emotet"})).await;
    let contains = "query C($id: String!, $o: String!) { taskContainsStixObjectOrStixRelationship(id: $id, stixObjectOrStixRelationshipId: $o) }";
    let relation_add =
        "mutation R($id: ID!, $input: StixRefRelationshipAddInput!) { taskRelationAdd(id: $id, input: $input) { id } }";
    let relation_delete = "mutation R($id: ID!, $toId: StixRef!, $relationship_type: String!) { taskRelationDelete(id: $id, toId: $toId, relationship_type: $relationship_type) { id } }";
    let patch = "mutation P($id: ID!, $input: [EditInput!]!) { taskFieldPatch(id: $id, input: $input) { id description } }";
    let delete = "mutation D($id: ID!) { taskDelete(id: $id) }";

    // Act
    let added =
        call(&p, relation_add, json!({"id": task["id"], "input": {"toId": malware["id"], "relationship_type": "object"}})).await;
    let after_add = call(&p, contains, json!({"id": task["id"], "o": malware["standard_id"]})).await;
    let removed =
        call(&p, relation_delete, json!({"id": task["id"], "toId": malware["id"], "relationship_type": "object"})).await;
    let after_remove = call(&p, contains, json!({"id": task["id"], "o": malware["id"]})).await;
    let patched = call(&p, patch, json!({"id": task["id"], "input": [{"key": "description", "value": ["done"]}]})).await;
    let not_a_task = call(&p, delete, json!({"id": malware["id"]})).await;
    let deleted = call(&p, delete, json!({"id": task["id"]})).await;
    let read = call(&p, "query T($id: String!) { task(id: $id) { id } }", json!({"id": task["id"]})).await;

    // Assert
    assert!(added["errors"].is_null(), "{added}");
    assert_eq!(after_add["data"]["taskContainsStixObjectOrStixRelationship"], true);
    assert_eq!(removed["data"]["taskRelationDelete"]["id"], task["id"], "{removed}");
    assert_eq!(after_remove["data"]["taskContainsStixObjectOrStixRelationship"], false);
    assert_eq!(patched["data"]["taskFieldPatch"], json!({"id": task["id"], "description": "done"}), "{patched}");
    assert_eq!(not_a_task["errors"][0]["message"], "Already deleted elements", "taskDelete deletes tasks only: {not_a_task}");
    assert!(p.object(malware["id"].as_str().unwrap()).is_some());
    assert_eq!(deleted["data"]["taskDelete"], task["id"]);
    assert_eq!(read["data"]["task"], Value::Null);
}

#[tokio::test]
async fn coverage_inputs_are_stored_under_their_stix_names_and_answered_under_their_graphql_names() {
    // Arrange
    let p = MockPlatform::start().await;
    let apt = add(&p, "intrusionSetAdd", "IntrusionSetAddInput", json!({"name": "APT28"})).await;
    let info = json!([{"coverage_name": "PREVENTION", "coverage_score": 75}]);
    let coverage = add(
        &p,
        "securityCoverageAdd",
        "SecurityCoverageAddInput",
        json!({"name": "Coverage of APT28", "objectCovered": apt["id"], "auto_enrichment_disable": false,
               "coverage_information": info, "coverage_last_result": CREATED, "periodicity": "P1D"}),
    )
    .await;
    let result = add(
        &p,
        "securityCoverageResultAdd",
        "SecurityCoverageResultAddInput",
        json!({"name": "run", "resultOf": coverage["id"], "coverage_information": info, "coverage_last_result": CREATED}),
    )
    .await;
    let source =
        add(&p, "dataSourceAdd", "DataSourceAddInput", json!({"name": "Process", "x_mitre_platforms": ["windows"]})).await;

    // Act
    let read = call(
        &p,
        "query S($id: String!) { securityCoverage(id: $id) { coverage_information { coverage_name coverage_score } coverage_last_result objectCovered { ... on IntrusionSet { id } } results { id resultOf { id } coverage_last_result } } }",
        json!({"id": coverage["id"]}),
    )
    .await;
    let edited = add(
        &p,
        "securityCoverageResultAdd",
        "SecurityCoverageResultAddInput",
        json!({"name": "edited run", "resultOf": coverage["id"]}),
    )
    .await;
    let patched = call(
        &p,
        "mutation P($id: ID!, $input: [EditInput]!) { stixDomainObjectEdit(id: $id) { fieldPatch(input: $input) { id } } }",
        json!({"id": edited["id"], "input": [{"key": "coverage_information", "value": [{"coverage_name": "DETECTION", "coverage_score": 20}]}]}),
    )
    .await;
    let read_source =
        call(&p, "query D($id: String!) { dataSource(id: $id) { x_mitre_platforms } }", json!({"id": source["id"]})).await;
    let with_components = call(
        &p,
        "mutation A($input: DataSourceAddInput!) { dataSourceAdd(input: $input) { id } }",
        json!({"input": {"name": "Network Traffic", "dataComponents": [source["id"]]}}),
    )
    .await;

    // Assert
    let stix = |id: &Value| -> Value { serde_json::from_str(&p.object(id.as_str().unwrap()).unwrap().body).unwrap() };
    let c = stix(&coverage["id"]);
    assert_eq!(c["covered_ref"], apt["standard_id"]);
    assert_eq!(c["coverage"], json!([{"name": "PREVENTION", "score": 75}]));
    assert_eq!((c["last_result"].as_str(), c.get("coverage_last_result")), (Some(CREATED), None));
    let r = stix(&result["id"]);
    assert_eq!(r["result_of_ref"], coverage["standard_id"]);
    assert_eq!(
        (r["coverage"].clone(), r["coverage_last_result"].as_str()),
        (json!([{"name": "PREVENTION", "score": 75}]), Some(CREATED))
    );
    assert_eq!(stix(&source["id"])["platforms"], json!(["windows"]));
    assert_eq!(
        read["data"]["securityCoverage"],
        json!({"coverage_information": info, "coverage_last_result": CREATED, "objectCovered": {"id": apt["id"]},
               "results": [{"id": result["id"], "resultOf": {"id": coverage["id"]}, "coverage_last_result": CREATED}]}),
        "{read}"
    );
    assert_eq!(read_source["data"]["dataSource"]["x_mitre_platforms"], json!(["windows"]));
    assert!(patched["errors"].is_null(), "{patched}");
    assert_eq!(
        stix(&edited["id"])["coverage"],
        json!([{"name": "DETECTION", "score": 20}]),
        "an edit is stored under the STIX names too"
    );
    assert_eq!(
        with_components["errors"][0]["extensions"]["data"]["operation"], "dataSourceAdd.dataComponents",
        "{with_components}"
    );
}
