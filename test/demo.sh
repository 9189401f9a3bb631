#!/bin/bash
# The main job: until the migration applets exist, show what the binary offers.
set -eu
"$FERRY" --help
