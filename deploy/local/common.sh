# Shared by up.sh, down.sh and test.sh.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_DIR="$ROOT/.run"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# name:port of every service the run command starts (port 0: a worker without HTTP).
SERVICES=(
  "Automations.Api:5080"
  "Automations.Ingestion:5081"
  "Automations.Rules:5082"
  "Automations.WebhookSender:5083"
  "Automations.LaunchEnqueuer:5084"
  "Automations.Console:5085"
)
# The port of one service in SERVICES.
service_port() {
  local entry
  for entry in "${SERVICES[@]}"; do [ "${entry%%:*}" = "$1" ] && { echo "${entry##*:}"; return; }; done
}
# up.sh runs each service from a ReadyToRun publish (.run/publish/<name>) when it has one, else from the build output.
service_dll() {
  if [ -f "$RUN_DIR/publish/$1/$1.dll" ]; then echo "$RUN_DIR/publish/$1/$1.dll"; else echo "$ROOT/services/$1/bin/Release/net10.0/$1.dll"; fi
}
