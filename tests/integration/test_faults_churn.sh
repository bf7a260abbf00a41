#!/usr/bin/env bash
# The short version of the fault-injection churn (tests/faults/churn.sh): a fixed seed, a dozen cycles of
# cell create/update/delete with kukeond SIGKILLed at random moments, then the exact-world check and the
# leak audit. contrib/faults runs the long one.
#   test_faults_churn.sh <kuke> <kukeond> <fixtures-dir>
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../faults/churn.sh" "$1" "$2" --seed "${KUKE_CHURN_SEED:-20261126}" \
        --cycles "${KUKE_CHURN_CYCLES:-12}"
