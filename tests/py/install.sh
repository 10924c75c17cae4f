#!/usr/bin/env bash
# Installs what tests/py needs beyond requirements.txt: helm-sdkpy (the real Helm library, Go
# compiled into a shared object) and schemathesis (for test_api_fuzz.py). helm-sdkpy's metadata
# asks for Python >= 3.12, but the library loads and works on 3.11, so it is installed with
# --ignore-requires-python.
#
# Run it with the test venv active, or point PYTHON at the venv's interpreter:
#   PYTHON=.venv/bin/python tests/py/install.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"
"$python" -m pip install --quiet -r "$here/requirements.txt"
"$python" -m pip install --quiet --ignore-requires-python "helm-sdkpy==0.1.32"
# schemathesis, for test_api_fuzz.py: fuzzes the API from its OpenAPI document
"$python" -m pip install --quiet "schemathesis==4.32.5"
"$python" -c "import helm_sdkpy; print('helm-sdkpy', helm_sdkpy.__version__, 'helm', helm_sdkpy.get_version())"
