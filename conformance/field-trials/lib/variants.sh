# shellcheck shell=bash
# DIAGNOSTIC VARIANTS — not the trials' configuration, and not counted in their verdicts.
# Each changes one setting of a connector's trial configuration to show what a check depends on;
# results go to results/<connector>/variant-<name>-<transport>/.
# One line each: NAME|VARIANT|TRANSPORT|CONFIG (lib/config.sh)|extra conform args (word-split)
# shellcheck disable=SC2034  # read by field-trials.sh
VARIANT_RUNS=(
 # The workbench path is import-file-stix's default; without validation it pushes the bundle itself.
 "import-file-stix|validate-off|api|default|--env CONNECTOR_VALIDATE_BEFORE_IMPORT=false"
 "import-file-stix|validate-off|amqp|default|--env CONNECTOR_VALIDATE_BEFORE_IMPORT=false"
 # No interval to wait for: the second run re-imports at once (no third run after a state reset).
 "opencti-datasets|interval-0|api|default|--env CONFIG_INTERVAL=0"
 # The operator's max TLP, given with --env in the variable --setting names, is the one the gate
 # judges against: TLP:RED leaves no marking above it, so no entity is sent as above the max TLP.
 "ismalicious|own-max-tlp-red|api|default|--env ISMALICIOUS_MAX_TLP=TLP:RED"
 "ioc-extractor|own-max-tlp-red|api|default|--env IOC_EXTRACTOR_MAX_TLP=TLP:RED"
 # first-epss without the TLP:RED job: ENRICH-007 shows whether its failure comes from that job.
 "first-epss|own-max-tlp-red|api|default|--env FIRST_EPSS_MAX_TLP=TLP:RED"
 # ismalicious without CONNECTOR_SCOPE: its own default scope never reaches the registration.
 "ismalicious|own-scope|api|own-scope|"
 # import-document-ai's backend refuses the corrupt PDF (HTTP 422) instead of answering a bundle.
 "import-document-ai|strict-backend|api|strict-backend|"
 # Tagger's own default CONNECTOR_ID (settings.py), which is not a UUID.
 "tagger|own-default-id|api|default|--env CONNECTOR_ID=tagger--b5970f8a-ce4b-4497-a381-20b7256f5777"
)
