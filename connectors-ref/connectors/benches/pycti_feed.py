# source: written for opencti-mock; the reference EXTERNAL_IMPORT connector's feed import
# (connectors-ref/connectors/src/bin/external_import.rs) done with pycti 7.261026.0, for the
# throughput comparison of benches/reference.rs. Same feed, same objects, same ids, same
# bundles of 500 feed items.
"""Imports FEED_URL once with pycti's helper and exits: one work, the bundles, the state."""

import json
import urllib.request
from datetime import datetime, timezone

import stix2
from pycti import Identity, Indicator, Malware, OpenCTIConnectorHelper, StixCoreRelationship, get_config_variable

ITEMS_PER_BUNDLE = 500
AUTHOR = "Reference Feed"
OPENCTI_TYPES = {"ipv4-addr": "IPv4-Addr", "domain-name": "Domain-Name", "url": "Url"}
OBSERVABLES = {"ipv4-addr": stix2.IPv4Address, "domain-name": stix2.DomainName, "url": stix2.URL}


def main() -> None:
    helper = OpenCTIConnectorHelper({})
    feed = json.load(urllib.request.urlopen(get_config_variable("FEED_URL", ["feed", "url"], {})))
    items = feed["indicators"]
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    work = helper.api.work.initiate_work(helper.connect_id, f"{helper.connect_name} run @ {now}")
    marking = stix2.TLP_GREEN
    author = stix2.Identity(
        id=Identity.generate_id(AUTHOR, "organization"), name=AUTHOR, identity_class="organization",
        description="A reference threat feed for OpenCTI connectors.", object_marking_refs=[marking.id],
    )
    families = sorted({i["malware"] for i in items if i.get("malware")})
    head = [author, marking] + [
        stix2.Malware(id=Malware.generate_id(f), name=f, is_family=True, malware_types=["bot"],
                      created_by_ref=author.id, object_marking_refs=[marking.id])
        for f in families
    ]
    helper.send_stix2_bundle(helper.stix2_create_bundle(head), work_id=work)
    for start in range(0, len(items), ITEMS_PER_BUNDLE):
        objects = []
        for item in items[start:start + ITEMS_PER_BUNDLE]:
            observable = OBSERVABLES[item["type"]](
                value=item["value"], object_marking_refs=[marking.id],
                custom_properties={"x_opencti_created_by_ref": author.id, "x_opencti_score": 80},
            )
            pattern = f"[{item['type']}:value = '{item['value']}']"
            indicator = stix2.Indicator(
                id=Indicator.generate_id(pattern), name=item["value"], pattern=pattern, pattern_type="stix",
                valid_from="2026-01-01T00:00:00Z", created_by_ref=author.id, object_marking_refs=[marking.id],
                custom_properties={"x_opencti_main_observable_type": OPENCTI_TYPES[item["type"]]},
            )
            rels = [("based-on", indicator.id, observable.id)]
            if item.get("malware"):
                rels.append(("indicates", indicator.id, Malware.generate_id(item["malware"])))
            objects += [observable, indicator] + [
                stix2.Relationship(id=StixCoreRelationship.generate_id(t, s, d), relationship_type=t, source_ref=s,
                                   target_ref=d, created_by_ref=author.id, object_marking_refs=[marking.id])
                for t, s, d in rels
            ]
        helper.send_stix2_bundle(helper.stix2_create_bundle(objects), work_id=work)
    helper.set_state({"last_run": now})
    helper.api.work.to_processed(work, f"{len(items)} items sent")
    helper.force_ping()


if __name__ == "__main__":
    main()
