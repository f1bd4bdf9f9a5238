#!/usr/bin/env bash
# The nightly EOD and morning rollover as Temporal schedules, made with the `temporal` CLI (the successor
# of tctl) — the same schedules `orchestrate schedule apply` creates from workspaces.toml.
#
#   TEMPORAL_ADDRESS=127.0.0.1:7233 TIME_ZONE=Europe/London scripts/temporal-schedules.sh
#
# Settings (environment): TEMPORAL_BIN (default: .tools/bin/temporal, else temporal on PATH),
# TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default), TASK_QUEUE (orchestrate),
# TIME_ZONE (Europe/London), EOD_AT (23:00), ROLLOVER_AT (06:00), CATCHUP_WINDOW (6h),
# SCHEDULE_PREFIX (orchestrate-).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
temporal="${TEMPORAL_BIN:-}"
if [ -z "$temporal" ]; then
  if [ -x "$here/.tools/bin/temporal" ]; then temporal="$here/.tools/bin/temporal"; else temporal=temporal; fi
fi
address="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
namespace="${TEMPORAL_NAMESPACE:-default}"
queue="${TASK_QUEUE:-orchestrate}"
tz="${TIME_ZONE:-Europe/London}"
prefix="${SCHEDULE_PREFIX:-orchestrate-}"
catchup="${CATCHUP_WINDOW:-6h}"

# As `orchestrate schedule apply` names them: on another task queue than the default, IDs carry "@<queue>", so
# two orchestrators sharing a namespace keep their own schedules.
suffix=""
[ "$queue" = orchestrate ] || suffix="@$queue"

schedule() { # kind HH:MM
  local kind=$1 hour=${2%%:*} minute=${2##*:}
  "$temporal" schedule create \
    --address "$address" --namespace "$namespace" \
    --schedule-id "${prefix}${kind}${suffix}" \
    --workflow-id "${kind}${suffix}" --type "$kind" --task-queue "$queue" --input '{}' \
    --calendar "{\"hour\":\"$((10#$hour))\",\"minute\":\"$((10#$minute))\",\"comment\":\"$kind at $2 $tz\"}" \
    --time-zone "$tz" --overlap-policy Skip --catchup-window "$catchup"
}

schedule eod "${EOD_AT:-23:00}"
schedule rollover "${ROLLOVER_AT:-06:00}"
echo "schedules ${prefix}eod${suffix} and ${prefix}rollover${suffix} created; see: $temporal schedule list --address $address"
