"""Writes the feed data the loopback server serves (hand-written samples in the feeds' real shapes).

    python make_data.py OUT_DIR

Run with a Python that has pycti installed: the STIX ids are pycti's deterministic ids."""
import json, os, sys, uuid
from pycti import Identity, Location, StixCoreRelationship, AttackPattern, CourseOfAction, MarkingDefinition

if len(sys.argv) != 2:
    sys.exit(__doc__)
D = sys.argv[1]
os.makedirs(D, exist_ok=True)
TS = "2026-07-01T00:00:00.000Z"

def bundle(objs):
    return {"type": "bundle", "id": "bundle--" + str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([o["id"] for o in objs]))), "objects": objs}

def w(name, data):
    p = os.path.join(D, name)
    with open(p, "w") as f:
        f.write(data if isinstance(data, str) else json.dumps(data, indent=1))

# abuse.ch SSLBL IP blacklist (CSV): Firstseen,DstIP,DstPort
w("sslipblacklist.csv", """################################################################
# abuse.ch SSLBL Botnet C2 IP Blacklist (CSV)                  #
# Last updated: 2026-08-20 06:00:12 UTC                        #
#                                                              #
# Terms Of Use: https://sslbl.abuse.ch/blacklist/              #
# For questions please contact sslbl [at] abuse.ch             #
################################################################
#
# Firstseen,DstIP,DstPort
2026-08-19 21:34:05,198.51.100.10,443
2026-08-19 17:02:44,198.51.100.11,8443
2026-08-18 09:15:00,203.0.113.25,447
2026-08-17 23:59:59,192.0.2.200,443
""")

# stopforumspam toxic domains (the connector skips the first 3 lines)
w("toxic_domains.txt", """# StopForumSpam toxic domains (filtered)
# generated 2026-08-20
#
spam-pharma-deals.example
cheap-replica-watches.example
free-casino-bonus.example
seo-backlinks-now.example
""")

# URLhaus csv_recent
w("urlhaus_csv_recent.csv", """################################################################
# abuse.ch URLhaus Database Dump (CSV - recent URLs only)      #
# Last updated: 2026-08-20 06:05:03 (UTC)                      #
#                                                              #
# Terms Of Use: https://urlhaus.abuse.ch/api/                  #
# For questions please contact urlhaus [at] abuse.ch           #
################################################################
#
# id,dateadded,url,url_status,last_online,threat,tags,urlhaus_link,reporter
"3601001","2026-08-20 05:58:11","http://198.51.100.33/bins/mozi.m","online","2026-08-20 05:58:11","malware_download","elf,Mozi","https://urlhaus.abuse.ch/url/3601001/","lrz_urlhaus"
"3601000","2026-08-20 05:40:02","https://files-share.example/dl/invoice_0820.zip","online","2026-08-20 05:40:02","malware_download","zip,AgentTesla","https://urlhaus.abuse.ch/url/3601000/","abuse_ch"
"3600999","2026-08-19 22:10:45","http://203.0.113.88:8080/i","offline","2026-08-19 23:00:00","malware_download","32-bit,elf,mips","https://urlhaus.abuse.ch/url/3600999/","geenensp"
""")

# OpenCTI datasets (sectors, geography, companies), small STIX bundles in the shapes of the public datasets
author = {"type": "identity", "spec_version": "2.1", "id": Identity.generate_id("Filigran", "organization"), "created": TS, "modified": TS,
          "name": "Filigran", "identity_class": "organization"}
def ident(name, cls, desc=None, extra=None):
    o = {"type": "identity", "spec_version": "2.1", "id": Identity.generate_id(name, cls), "created": TS, "modified": TS,
         "name": name, "identity_class": cls, "created_by_ref": author["id"]}
    if desc: o["description"] = desc
    if extra: o.update(extra)
    return o
def rel(rtype, s, t):
    return {"type": "relationship", "spec_version": "2.1", "id": StixCoreRelationship.generate_id(rtype, s["id"], t["id"]),
            "created": TS, "modified": TS, "relationship_type": rtype, "source_ref": s["id"], "target_ref": t["id"], "created_by_ref": author["id"]}
fin = ident("Finance", "class", "Banking, insurance and financial services.")
bank = ident("Banking", "class", "Retail and investment banks.")
ener = ident("Energy", "class", "Oil, gas, electricity production and distribution.")
w("sectors.json", bundle([author, fin, bank, ener, rel("part-of", bank, fin)]))
def loc(name, ltype, extra=None):
    o = {"type": "location", "spec_version": "2.1", "id": Location.generate_id(name, ltype), "created": TS, "modified": TS,
         "name": name, "created_by_ref": author["id"], "x_opencti_location_type": ltype}
    o.update(extra or {})
    return o
europe = loc("Europe", "Region", {"region": "europe"})
west = loc("Western Europe", "Region", {"region": "western-europe"})
fr = loc("France", "Country", {"country": "FR", "x_opencti_aliases": ["FRA"]})
de = loc("Germany", "Country", {"country": "DE", "x_opencti_aliases": ["DEU"]})
w("geography.json", bundle([author, europe, west, fr, de, rel("located-at", west, europe), rel("located-at", fr, west), rel("located-at", de, west)]))
acme = ident("Acme Bank SA", "organization", "A fictitious bank.", {"x_opencti_organization_type": "vendor"})
w("companies.json", bundle([author, fin, acme, rel("part-of", acme, fin), fr, rel("located-at", acme, fr)]))

# DISARM-like framework bundle
disarm_author = {"type": "identity", "spec_version": "2.1", "id": Identity.generate_id("DISARM Foundation", "organization"), "created": TS, "modified": TS,
                 "name": "DISARM Foundation", "identity_class": "organization"}
marking = {"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--" + str(uuid.uuid5(uuid.NAMESPACE_URL, "disarm-cc-by-sa")),
           "created": TS, "definition_type": "statement", "definition": {"statement": "CC-BY-SA-4.0 DISARM Foundation"}}
def ap(ext_id, name, phase, desc):
    return {"type": "attack-pattern", "spec_version": "2.1", "id": AttackPattern.generate_id(name, ext_id), "created": TS, "modified": TS,
            "name": name, "description": desc, "created_by_ref": disarm_author["id"], "object_marking_refs": [marking["id"]],
            "kill_chain_phases": [{"kill_chain_name": "mitre-attack", "phase_name": phase}],
            "external_references": [{"source_name": "DISARM", "external_id": ext_id, "url": f"https://github.com/DISARMFoundation/DISARMframeworks/blob/main/generated_pages/techniques/{ext_id}.md"}],
            "x_mitre_id": ext_id}
t1 = ap("T0002", "Facilitate State Propaganda", "plan-strategy", "Organise citizens around pro-state messaging.")
t2 = ap("T0007", "Create Inauthentic Social Media Pages and Groups", "establish-social-assets", "Create key social engineering assets.")
coa = {"type": "course-of-action", "spec_version": "2.1", "id": CourseOfAction.generate_id("Prebunking", "C00008"), "created": TS, "modified": TS,
       "name": "Prebunking", "description": "Produce material in advance of disinformation.", "created_by_ref": disarm_author["id"],
       "object_marking_refs": [marking["id"]], "external_references": [{"source_name": "DISARM", "external_id": "C00008"}], "x_mitre_id": "C00008"}
tactic = {"type": "x-mitre-tactic", "spec_version": "2.1", "id": "x-mitre-tactic--" + str(uuid.uuid5(uuid.NAMESPACE_URL, "disarm-TA01")),
          "created": TS, "modified": TS, "name": "Plan Strategy", "x_mitre_shortname": "plan-strategy", "created_by_ref": disarm_author["id"],
          "external_references": [{"source_name": "DISARM", "external_id": "TA01"}]}
mit = {"type": "relationship", "spec_version": "2.1", "id": StixCoreRelationship.generate_id("mitigates", coa["id"], t1["id"]), "created": TS, "modified": TS,
       "relationship_type": "mitigates", "source_ref": coa["id"], "target_ref": t1["id"], "created_by_ref": disarm_author["id"], "object_marking_refs": [marking["id"]]}
w("DISARM.json", bundle([marking, disarm_author, tactic, t1, t2, coa, mit]))
print("written to", D, sorted(os.listdir(D)))
