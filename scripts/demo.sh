#!/usr/bin/env bash
# make demo: a throwaway daemon, a demo user enrolled with a real otpauth URI, and a real PAM
# login (pamtester) that asks for the code. DEMO_AUTO=1 computes the codes with oathtool instead
# of asking, for unattended runs. Exits 0 only if the login succeeded; cleans up either way.
set -euo pipefail

totpd=$1 totpctl=$2 module=$3
auto=${DEMO_AUTO:-0}
user=totpd-demo
work=$(mktemp -d /tmp/totpd-demo.XXXXXX)
service=totpd-demo-$$
daemon=

cleanup() {
    [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null || true
    rm -f "/etc/pam.d/$service"
    userdel "$user" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A code from the keyboard, or (DEMO_AUTO=1) from oathtool for `offset` steps ahead.
code() {
    local offset=$1 prompt=$2
    if [ "$auto" = 1 ]; then
        oathtool --totp --base32 --now="@$(( $(date +%s) + 30 * offset ))" - <<<"$secret"
    else
        read -r -p "$prompt" typed </dev/tty
        printf '%s\n' "$typed"
    fi
}

chmod 0755 "$work"
say "Starting a throwaway totpd on $work/socket"
"$totpd" --config /dev/null --socket "$work/socket" --state-dir "$work/state" --issuer totpd-demo \
    --log-level warning &
daemon=$!
for _ in $(seq 100); do [ -S "$work/socket" ] && break; sleep 0.1; done
export TOTPD_SOCKET="$work/socket"

say "Creating the demo account '$user'"
userdel "$user" 2>/dev/null || true
useradd --no-create-home --shell /usr/sbin/nologin "$user"

say "Enrolling $user: add this account to your authenticator app"
enrollment=$("$totpctl" enroll --user "$user" --json)
secret=$(sed 's/.*"secret":"\([A-Z2-7]*\)".*/\1/' <<<"$enrollment")
uri=$(sed 's/.*"uri":"\([^"]*\)".*/\1/' <<<"$enrollment")
printf '  otpauth URI: %s\n  secret:      %s\n' "$uri" "$secret"

say "Confirming the enrollment with a first code"
code 0 "Code from the app: " | "$totpctl" confirm --user "$user" --code -

say "Logging in through real PAM (pamtester, service $service)"
echo "auth required $module socket=$work/socket" > "/etc/pam.d/$service"
if [ "$auto" = 1 ]; then
    login_code=$(code 1 "")
    echo "(DEMO_AUTO=1: typing the next code, computed by oathtool)"
    printf '%s\n' "$login_code" | pamtester "$service" "$user" authenticate
else
    echo "Wait for the app to show a new code, then type it at the prompt."
    pamtester "$service" "$user" authenticate </dev/tty
fi
say "Login succeeded. Cleaning up."
