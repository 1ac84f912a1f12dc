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
 # The operator's max TLP overrides the one the gate sets through --setting (TLP:AMBER): the gate
 # still sends a TLP:RED entity as "above the max TLP".
 "ismalicious|own-max-tlp-red|api|default|--env ISMALICIOUS_MAX_TLP=TLP:RED"
 "ioc-extractor|own-max-tlp-red|api|default|--env IOC_EXTRACTOR_MAX_TLP=TLP:RED"
 # ismalicious without CONNECTOR_SCOPE: its own default scope never reaches the registration.
 "ismalicious|own-scope|api|own-scope|"
 # Tagger's own default CONNECTOR_ID (settings.py), which is not a UUID.
 "tagger|own-default-id|api|default|--env CONNECTOR_ID=tagger--b5970f8a-ce4b-4497-a381-20b7256f5777"
)
