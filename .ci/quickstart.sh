#!/usr/bin/env bash
# The README's first quick-start command, run as a person would: in a real terminal (tmux).
# It answers the TUI's demo offer with `y`, waits for tickets on the queue screen, and quits.
set -euo pipefail
cmd='python3 -m venv .venv && .venv/bin/pip install -c constraints.txt -e . && .venv/bin/tessera'
status_file="$(mktemp)"
rm -f "$status_file"
session=tessera-quickstart
tmux kill-session -t "$session" 2>/dev/null || true
tmux new-session -d -s "$session" -x 120 -y 40 "bash -c '$cmd; echo \$? > $status_file'"

screen() { tmux capture-pane -p -t "$session" 2>/dev/null || true; }
wait_for() {  # PATTERN SECONDS
  for _ in $(seq 1 "$2"); do
    if screen | grep -q -- "$1"; then return 0; fi
    if [ -s "$status_file" ]; then break; fi
    sleep 1
  done
  echo "ci: quick start: timed out waiting for '$1'; the screen was:"; screen
  return 1
}

wait_for "This desk has no tickets yet" 600
tmux send-keys -t "$session" y
wait_for "TKT-0" 180
echo "ci: quick start: the TUI shows the seeded desk:"; screen | head -12
for _ in 1 2 3 4 5; do
  [ -s "$status_file" ] && break
  tmux send-keys -t "$session" q
  sleep 2
done
code="$(cat "$status_file" 2>/dev/null || echo none)"
tmux kill-session -t "$session" 2>/dev/null || true
if [ "$code" != "0" ]; then echo "ci: quick start: tessera exited with '$code'"; exit 1; fi
echo "ci: quick start: tessera quit cleanly"
