#!/usr/bin/env bash
# make demo: the main job end to end. A throwaway daemon; a demo user's first login through real
# PAM (pamtester) shows a QR code, takes the code from the app and sets up the second factor;
# the next login asks only for a code. DEMO_AUTO=1 reads the key off the screen and computes the
# codes with oathtool instead of asking, for unattended runs. Exits 0 only if both logins
# succeeded; cleans up either way.
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

# The code for `offset` steps ahead, computed by oathtool from the key the module showed.
code() { oathtool --totp --base32 --now="@$(( $(date +%s) + 30 * $1 ))" - <<<"$secret"; }

chmod 0755 "$work"
say "Starting a throwaway totpd on $work/socket"
printf 'enroll_at_login: [%s]\n' "$service" > "$work/totpd.conf"
"$totpd" --config "$work/totpd.conf" --socket "$work/socket" --state-dir "$work/state" --issuer totpd-demo \
    --log-level warning &
daemon=$!
for _ in $(seq 100); do [ -S "$work/socket" ] && break; sleep 0.1; done
export TOTPD_SOCKET="$work/socket"

say "Creating the demo account '$user' and the PAM service $service"
userdel "$user" 2>/dev/null || true
useradd --no-create-home --shell /usr/sbin/nologin "$user"
echo "auth required $module socket=$work/socket unenrolled=enroll" > "/etc/pam.d/$service"

say "First login (pamtester): scan the QR code with your authenticator app, type its code"
if [ "$auto" = 1 ]; then
    echo "(DEMO_AUTO=1: the key is read off the screen and the code computed by oathtool)"
    # pamtester's output unbuffered, so the key line arrives before pamtester waits for the code.
    coproc login { stdbuf -o0 -e0 pamtester "$service" "$user" authenticate 2>&1; }
    login_pid=$login_PID  # bash unsets login_PID when the coprocess ends
    secret=
    while IFS= read -r line <&"${login[0]}"; do
        printf '%s\n' "$line"
        if [[ $line == *"type this key into the app: "* ]]; then
            secret=${line##*: } secret=${secret// /}
            break
        fi
    done
    [ -n "$secret" ] || { echo "the module showed no key" >&2; exit 1; }
    code 0 >&"${login[1]}"
    cat <&"${login[0]}"
    echo
    wait "$login_pid"
else
    pamtester "$service" "$user" authenticate </dev/tty
fi

say "The daemon's view of $user"
"$totpctl" status "$user"

say "Second login: only the code now"
if [ "$auto" = 1 ]; then
    echo "(DEMO_AUTO=1: typing the next code, computed by oathtool)"
    code 1 | pamtester "$service" "$user" authenticate
else
    echo "Wait for the app to show a new code, then type it at the prompt."
    pamtester "$service" "$user" authenticate </dev/tty
fi
say "Both logins succeeded. Cleaning up."
