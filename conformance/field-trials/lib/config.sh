# shellcheck shell=bash
# The configuration each connector is tried with: its own defaults, plus what it needs to run
# offline against the loopback feed server ($FEEDS, default http://127.0.0.1:8765) — the feed
# URLs of its docker-compose.yml redirected there, and the settings its docker-compose.yml sets —
# and what the gate needs to know about it (--setting, --sample-file).
#
#   conn_config NAME [CONFIG]     CONFIG: default (the trials' configuration), misp-event
#                                 (import-file-misp with a MISP event); for diagnostic variants:
#                                 own-scope (ismalicious without CONNECTOR_SCOPE), strict-backend
#                                 (import-document-ai with a backend that refuses a corrupt PDF)
#
# Sets:
#   SCOPE   CONNECTOR_SCOPE to give with --scope, or empty: the connector registers its own.
#           Given only to the plain pycti connectors whose scope does not reach pycti without it
#           (pycti then registers "not-applicable"), with the value of their docker-compose.yml:
#           abuse-ssl, stopforumspam and import-document-ai have no scope in their code (the
#           READMEs of the first and last list CONNECTOR_SCOPE as mandatory); ismalicious has one, which never reaches
#           pycti (main.py hands OpenCTIConnectorHelper a flat dict pycti does not read).
#           The export connectors have none in their code either: theirs is their docker-compose.yml's.
#   ENVS    the connector's own settings (conform --env KEY=VALUE)
#   GATE    what the gate is told (conform --setting NAME=VAR, --sample-file MIME=PATH)
# shellcheck disable=SC2034  # SCOPE, ENVS and GATE are read by run_trial.sh
conn_config() {
  local F=${FEEDS:-http://127.0.0.1:8765} here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  SCOPE=""
  ENVS=()
  GATE=()
  case "$1:${2:-default}" in
    abuse-ssl:default)
      SCOPE=abusessl
      ENVS=("ABUSESSL_URL=$F/abusessl/sslipblacklist.csv" "ABUSESSL_INTERVAL=360");;
    stopforumspam:default)
      SCOPE=stopforumspam
      ENVS=("STOPFORUMSPAM_URL=$F/stopforumspam/toxic_domains_whole_filtered_50000.txt"
            "STOPFORUMSPAM_CREATE_INDICATORS=true" "STOPFORUMSPAM_INTERVAL=3");;
    opencti-datasets:default)
      ENVS=("CONFIG_SECTORS_FILE_URL=$F/datasets/sectors.json" "CONFIG_GEOGRAPHY_FILE_URL=$F/datasets/geography.json"
            "CONFIG_COMPANIES_FILE_URL=$F/datasets/companies.json" "CONFIG_REMOVE_CREATOR=false" "CONFIG_INTERVAL=7");;
    disarm-framework:default)
      ENVS=("DISARM_FRAMEWORK_URL=$F/disarm/DISARM.json");;
    urlhaus:default)
      ENVS=("URLHAUS_CSV_URL=$F/urlhaus/downloads/csv_recent/" "URLHAUS_INTERVAL=3" "URLHAUS_DEFAULT_X_OPENCTI_SCORE=80"
            "URLHAUS_IMPORT_OFFLINE=true" "URLHAUS_THREATS_FROM_LABELS=true");;
    ioc-extractor:default)
      GATE=(--setting max_tlp=IOC_EXTRACTOR_MAX_TLP);;
    tagger:default)
      ;; # no max-TLP setting: ENRICH-004 does not apply
    ismalicious:default|ismalicious:own-scope)
      [ "${2:-default}" = default ] && SCOPE=IPv4-Addr,IPv6-Addr,Domain-Name
      ENVS=("ISMALICIOUS_API_URL=$F/ismalicious" "ISMALICIOUS_API_KEY=trial-key")
      GATE=(--setting max_tlp=ISMALICIOUS_MAX_TLP);;
    first-epss:default)
      ENVS=("FIRST_EPSS_API_BASE_URL=$F/epss")
      GATE=(--setting max_tlp=FIRST_EPSS_MAX_TLP);;
    import-file-stix:default|import-document:default|import-file-yara:default|import-file-misp:default)
      ;;
    import-file-misp:misp-event)
      GATE=(--sample-file "application/json=$here/feeds/misp-event.json");;
    import-document-ai:default|import-document-ai:strict-backend)
      SCOPE=application/pdf,text/plain,text/html,text/markdown
      local backend=$F/docai
      [ "${2:-default}" = strict-backend ] && backend=$F/docai-strict
      ENVS=("IMPORT_DOCUMENT_AI_API_BASE_URL=$backend" "IMPORT_DOCUMENT_AI_API_KEY=trial-key"
            "IMPORT_DOCUMENT_AI_INCLUDE_RELATIONSHIPS=true" "IMPORT_DOCUMENT_AI_CREATE_INDICATOR=false"
            "CONNECTOR_VALIDATE_BEFORE_IMPORT=true");;
    # The export connectors have no scope in their code (they hand pycti their config.yml, or
    # nothing): CONNECTOR_SCOPE is their docker-compose.yml's, and the format the gate asks for.
    export-file-stix:default)
      SCOPE=application/vnd.oasis.stix+json;;
    export-file-csv:default)
      SCOPE=text/csv
      ENVS=("EXPORT_FILE_CSV_DELIMITER=;");;
    export-file-txt:default)
      SCOPE=text/plain;;
    export-file-yara:default)
      SCOPE=text/yara+plain;;
    export-report-pdf:default)
      SCOPE=application/pdf
      ENVS=("EXPORT_REPORT_PDF_PRIMARY_COLOR=#ff8c00" "EXPORT_REPORT_PDF_SECONDARY_COLOR=#000000"
            "EXPORT_REPORT_PDF_COMPANY_ADDRESS_LINE_1=Example Name" "EXPORT_REPORT_PDF_COMPANY_ADDRESS_LINE_2=123 Main Street"
            "EXPORT_REPORT_PDF_COMPANY_ADDRESS_LINE_3=Miami, FL 33101 USA" "EXPORT_REPORT_PDF_COMPANY_PHONE_NUMBER=888.888.8888"
            "EXPORT_REPORT_PDF_COMPANY_EMAIL=intelligence_reports@example.com" "EXPORT_REPORT_PDF_COMPANY_WEBSITE=https://example.com"
            "EXPORT_REPORT_PDF_INDICATORS_ONLY=false" "EXPORT_REPORT_PDF_DEFANG_URLS=false");;
    export-ttps-file-navigator:default)
      SCOPE=application/vnd.mitre.navigator+json;;
    *) echo "unknown connector or configuration: $1 ${2:-default}" >&2; return 1;;
  esac
}
