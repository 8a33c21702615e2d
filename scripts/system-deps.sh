#!/usr/bin/env bash
# Debian packages the harness uses:
#   wordnet-base, wordnet-sense-index  WordNet 3.0 files for EDA synonym replacement (/usr/share/wordnet)
#   apertium, apertium-eng-spa         offline English<->Spanish translation for back-translation
#   postgresql                         a real server for the multi-worker Optuna storage tests
#   chromium                           headless browser: the leaderboard page's rendering test (offline, from disk)
# Installs what is missing when run as root with apt-get; otherwise prints the command and carries on
# (features that need a missing package fail with a message naming it; their tests are skipped).
set -u
missing=()
[ -f /usr/share/wordnet/index.noun ] || missing+=(wordnet-base)
[ -f /usr/share/wordnet/index.sense ] || missing+=(wordnet-sense-index)
command -v apertium >/dev/null 2>&1 || missing+=(apertium)
ls /usr/share/apertium/modes/eng-spa.mode >/dev/null 2>&1 || missing+=(apertium-eng-spa)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { echo "error: apt-get install ${missing[*]} failed" >&2; exit 1; }
else
  echo "note: missing Debian packages: ${missing[*]}"
  echo "      install them with: sudo apt-get install ${missing[*]}"
fi
