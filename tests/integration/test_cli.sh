#!/usr/bin/env bash
# netinv's command line from an operator's side: help, version, every bad input as one line naming
# the problem with its exit code, output files, unprivileged runs. Read-only on the host: it only
# dumps tables, in a scratch namespace.
set -u
source "$(dirname "$0")/lib.sh"
trap ns_cleanup_all EXIT
here=$IT_DIR
top=$IT_TOP
it_tmpdir cli || exit 1
ns=netinv-cli-$$
ns_new "$ns" && ns_populate "$ns" || { notok "build the namespace"; exit 1; }
x="ip netns exec $ns"

# expect CODE PATTERN -- ARGS: exit code and a single stderr line matching PATTERN
expect() {
	local code=$1 pat=$2
	shift 3
	$x "$NETINV" "$@" >"$dir/out" 2>"$dir/err"
	local rc=$? lines
	lines=$(wc -l <"$dir/err")
	if [ "$rc" = "$code" ] && grep -q -- "$pat" "$dir/err" && [ "$lines" = 1 ]; then
		ok "netinv $* -> exit $code, one line: $(cat "$dir/err")"
	else
		notok "netinv $*: exit $rc (want $code), stderr: $(cat "$dir/err")"
	fi
}

expect 64 "unknown option '--bogus'" -- --bogus
expect 64 "unknown table 'routez'" -- --dry-run --only routez
expect 64 "'--output' needs a value" -- --dry-run --output
expect 78 "unknown level 'loud'" -- --dry-run --log-level loud
NETINV_SERVER_URL= expect 78 "no server_url configured" --
expect 64 "unexpected argument 'now'" -- --dry-run now
expect 73 "cannot create $dir/missing/r.json" -- --dry-run -o "$dir/missing/r.json"

# a full disk: the write error is reported, not swallowed
$x "$NETINV" --dry-run --compact -o /dev/full 2>"$dir/err"
rc=$?
if [ "$rc" = 74 ] && grep -q "No space left" "$dir/err"; then ok "--output /dev/full -> exit 74"; else
	notok "/dev/full: exit $rc $(cat "$dir/err")"; fi

# under journald (stderr is the stream JOURNAL_STREAM names) each line carries its syslog priority;
# a JOURNAL_STREAM inherited by a process whose stderr goes elsewhere changes nothing
: >"$dir/j.err"
JOURNAL_STREAM=$(stat -c '%d:%i' "$dir/j.err") $x "$NETINV" --bogus 2>>"$dir/j.err"
grep -q "^<3>unknown option '--bogus'" "$dir/j.err" && ok "journald: <3> priority prefix on errors" ||
	notok "journald prefix: $(cat "$dir/j.err")"
JOURNAL_STREAM=8:1234 $x "$NETINV" --bogus 2>"$dir/j2.err"
grep -q "^netinv: error: unknown option '--bogus'" "$dir/j2.err" &&
	ok "a JOURNAL_STREAM that is not stderr's: plain lines" || notok "inherited JOURNAL_STREAM: $(cat "$dir/j2.err")"
# the run's summary: one line with key=value figures; under journald one journal entry whose figures
# are fields (a journal socket of the test's own, in a private mount namespace)
$x "$NETINV" --dry-run -o /dev/null --state-dir "$dir/sum" 2>"$dir/sum.err"
n=$(grep -c "collected" "$dir/sum.err")
[ "$n" = 1 ] && grep -Eq "collected [0-9]+ links?, .*\[outcome=dry-run links=[0-9]+ .* bytes=[0-9]+ " "$dir/sum.err" &&
	ok "one summary line per run, with key=value figures" || notok "summary: $(cat "$dir/sum.err")"
cat >"$dir/jsock.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
s.settimeout(20)
open(sys.argv[2], "wb").write(s.recv(65536))
PY
unshare -m --propagation private bash -c '
	mount -t tmpfs netinv-run /run && mkdir -p /run/systemd/journal || exit 1
	"$1" "$2/jsock.py" /run/systemd/journal/socket "$2/journal.dgram" &
	for _ in $(seq 100); do [ -e "$2/journal.dgram.ready" ] && break; sleep 0.05; done
	: >"$2/jr.err"
	JOURNAL_STREAM=$(stat -c "%d:%i" "$2/jr.err") "$4" --dry-run -o /dev/null --state-dir "$2/sum" 2>>"$2/jr.err"
	wait' _ "$PYTHON" "$dir" "$ns" "$NETINV"
if grep -q "^MESSAGE=collected " "$dir/journal.dgram" && grep -q "^PRIORITY=6$" "$dir/journal.dgram" &&
	grep -q "^NETINV_OUTCOME=dry-run$" "$dir/journal.dgram" && grep -Eq "^NETINV_LINKS=[0-9]+$" "$dir/journal.dgram" &&
	grep -q "^SYSLOG_IDENTIFIER=netinv$" "$dir/journal.dgram" && ! grep -q "collected" "$dir/jr.err"; then
	ok "under journald the summary is one journal entry with its figures as fields (NETINV_LINKS=...)"
else
	notok "journal fields: $(tr '\n' ' ' <"$dir/journal.dgram" 2>/dev/null) | $(cat "$dir/jr.err")"
fi

# help and version
$x "$NETINV" --help >"$dir/help" 2>&1 && grep -q -- "--dry-run" "$dir/help" && grep -q "Examples:" "$dir/help" &&
	ok "--help lists modes and examples" || notok "--help"
for flag in --dry-run --output --pretty --compact --only --no-processes --state-dir --log-level --help --version; do
	grep -q -- "$flag" "$dir/help" || notok "--help does not mention $flag"
done
$x "$NETINV" --version >"$dir/ver" && grep -q "^netinv $(cat "$top/VERSION")$" "$dir/ver" && grep -q "^libmnl" "$dir/ver" &&
	grep -q "^libnl" "$dir/ver" && ok "--version names netinv and its libraries" || notok "--version: $(cat "$dir/ver")"

# the man page: lint-clean, and the same flags as --help (one cannot drift from the other)
man=$top/deploy/man/netinv.8
if command -v mandoc >/dev/null; then
	# the one request mandoc does not know is groff's glyph fallback, inside `.if \n(.g`
	mandoc -T lint -W warning "$man" 2>&1 | grep -v "mandoc.db" |
		grep -v "UNSUPP: unsupported roff request: fchar$" >"$dir/lint"
	[ ! -s "$dir/lint" ] && ok "mandoc -T lint: clean" || notok "mandoc lint: $(head -3 "$dir/lint")"
else
	notok "mandoc is not installed"
fi
"$PYTHON" - "$dir/help" "$man" <<'PY' && ok "--help and netinv(8) list the same flags" || notok "--help and the man page disagree"
import re, sys
help_text = open(sys.argv[1]).read()
man = open(sys.argv[2]).read()
h = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*[a-z])", help_text)) | set(re.findall(r"(?<![\w-])(-[a-zA-Z])(?=[ ,])", help_text))
m = {"-" + f for f in re.findall(r"Fl (-[a-z][a-z-]*[a-z])", man)} | {"-" + f for f in re.findall(r"Fl ([a-zA-Z])\b", man)}
if h != m:
    print("only in --help:", sorted(h - m), "only in the man page:", sorted(m - h))
    sys.exit(1)
PY

# one exit-code table: --help prints it, netinv(8) and README list the same codes with the same words
"$PYTHON" - "$dir/help" "$man" "$top/README.md" <<'PY' && ok "--help, netinv(8) and README give the same exit-code table" || notok "the exit-code tables disagree"
import re, sys
norm = lambda t: re.sub(r"\s+", " ", t).strip().rstrip(".").lower()
h = dict(re.findall(r"^  (\d+) +(.+)$", open(sys.argv[1]).read().split("Exit status:")[1], re.M))
mt = open(sys.argv[2]).read().split(".Sh EXIT STATUS")[1].split(".El")[0]
m = {c: t.replace("\n", " ") for c, t in re.findall(r"^\.It (\d+)\n(.*?)(?=^\.It|\Z)", mt, re.M | re.S)}
r = dict(re.findall(r"^  \| (\d+) \| (.+) \|$", open(sys.argv[3]).read(), re.M))
h, m, r = ({k: norm(v) for k, v in d.items()} for d in (h, m, r))
if not h or h != m or h != r:
    print("help:", h, "man:", m, "readme:", r)
    sys.exit(1)
PY

# what `man netinv` shows (groff): no warning, the OS line, Graphēon whole (e where a terminal has
# no ē, never a hole)
groff -mdoc -Tascii -ww "$man" 2>"$dir/groff.err" >"$dir/man.txt"
groff -mdoc -Tutf8 -ww "$man" 2>>"$dir/groff.err" >"$dir/man.utf8"
if [ ! -s "$dir/groff.err" ] && head -1 "$dir/man.txt" | grep -q "^NETINV(8) *System Manager's Manual *NETINV(8)$" &&
	tail -1 "$dir/man.txt" | grep -q "^Linux " && grep -q "Grapheon agent API" "$dir/man.txt" &&
	! grep -q "Graphon" "$dir/man.txt" && grep -q "Graphēon agent API" "$dir/man.utf8"; then
	ok "groff renders netinv(8) without a warning: its OS line, Graphēon (Grapheon in ASCII)"
else
	notok "groff: $(head -3 "$dir/groff.err") | $(head -1 "$dir/man.txt") | $(grep -o 'Graph[^ ]*' "$dir/man.txt" | head -1)"
fi

# output file: created 0600, compact JSON; stdout not a terminal -> compact
$x "$NETINV" --dry-run -o "$dir/r.json" 2>/dev/null
mode=$(stat -c %a "$dir/r.json" 2>/dev/null)
lines=$(wc -l <"$dir/r.json")
[ "$mode" = 600 ] && [ "$lines" = 1 ] && ok "report file is 0600 and compact" || notok "report file mode $mode lines $lines"
$x "$NETINV" --dry-run --pretty 2>/dev/null | head -2 | tail -1 | grep -q '^  "schema_version": 1,$' &&
	ok "--pretty indents" || notok "--pretty"

# unprivileged: no CAP_SYS_PTRACE -> attribution says not_permitted once, the run still succeeds
if command -v setpriv >/dev/null; then
	$x setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$NETINV" --dry-run \
		--state-dir /nonexistent --compact >"$dir/u.json" 2>"$dir/u.err"
	rc=$?
	if [ "$rc" = 0 ] && "$PYTHON" -c "
import json,sys; r=json.load(open('$dir/u.json'))
assert r['metadata']['stats']['processes']['status']=='not_permitted'
assert r['routes'] and r['addresses']
assert all(c['pid'] is None for c in r['connections']+r['listeners'])
" && [ "$(grep -c 'process attribution skipped' "$dir/u.err")" = 1 ]; then
		ok "unprivileged run succeeds, attribution not_permitted, said once"
	else
		notok "unprivileged run: exit $rc $(cat "$dir/u.err")"
	fi
fi

# an identity file that is not a UUID is a hard error: never trusted, never replaced
mkdir -p -m 0700 "$dir/state" && echo 'not-a-uuid' >"$dir/state/agent_uuid"
$x "$NETINV" --dry-run --compact --state-dir "$dir/state" -o "$dir/s.json" 2>"$dir/s.err"
rc=$?
[ "$rc" = 65 ] && grep -q "agent_uuid is not a UUID; refusing to replace it" "$dir/s.err" && [ "$(wc -l <"$dir/s.err")" = 1 ] &&
	[ "$(cat "$dir/state/agent_uuid")" = not-a-uuid ] && ok "bad identity file: exit 65, one line, left as it is" ||
	notok "bad identity: exit $rc $(cat "$dir/s.err")"
echo 123e4567-e89b-42d3-a456-426614174000 >"$dir/state/agent_uuid"
$x "$NETINV" --dry-run --compact --state-dir "$dir/state" -o "$dir/s.json" 2>/dev/null
grep -q '"agent_uuid":"123e4567-e89b-42d3-a456-426614174000"' "$dir/s.json" && ! grep -q '"identity"' "$dir/s.json" &&
	ok "identity read from the state directory" || notok "identity not read"

# the service user cannot read the root-only netinv.conf; systemd passes it as EnvironmentFile=
NETINV=$NETINV unshare -m --propagation private bash "$here/etc_as_service_user.sh" >"$dir/eacces" 2>&1
grep -q "^rc=0" "$dir/eacces" && grep -q env-ok "$dir/eacces" && grep -q note-ok "$dir/eacces" && grep -q root-ok "$dir/eacces" &&
	ok "unprivileged: a root-only netinv.conf is skipped (said in --check-config), the environment counts; root reads it" ||
	notok "root-only config: $(cat "$dir/eacces")"

# the host's own report validates against the schema (read-only on the host)
"$NETINV" --dry-run --compact -o "$dir/host.json" 2>"$dir/host.err" &&
	"$PYTHON" "$here/validate.py" "$top/report/schema/report.schema.json" "$dir/host.json" &&
	ok "this host's report validates against the schema" || notok "host report: $(cat "$dir/host.err")"

# root's -o FILE in a root-only directory, while netinv acts as the state directory's owner
mkdir -m 0700 "$dir/rootonly" && mkdir -m 0700 "$dir/svc" && chown 65534:65534 "$dir/svc"
$x "$NETINV" --dry-run --state-dir "$dir/svc" -o "$dir/rootonly/r.json" 2>"$dir/ro.err"
rc=$?
[ $rc = 0 ] && [ "$(stat -c '%U %a' "$dir/rootonly/r.json" 2>/dev/null)" = "root 600" ] &&
	"$PYTHON" -c "import json,sys; json.load(open(sys.argv[1]))" "$dir/rootonly/r.json" &&
	ok "root's -o FILE in a root-only directory: written (root, 0600) while acting as the service user" ||
	notok "root -o: exit $rc $(cat "$dir/ro.err")"

# curl's options are type-checked at compile time (libcurl is loaded on demand, so curl's own
# checks cannot apply): a wrong argument type does not compile
flags=$(pkg-config --cflags libcurl libcjson 2>/dev/null)
bad=0
for k in 1 2 3; do
	cc -std=c17 -D_GNU_SOURCE -O2 -fsyntax-only -DNETINV_HTTP_VERSION='"t"' -DNETINV_SETOPT_SELFTEST=$k \
		$flags "$top/report/http.c" 2>"$dir/cc$k.err" && bad=1
	grep -q "takes a" "$dir/cc$k.err" || bad=1
done
cc -std=c17 -D_GNU_SOURCE -O2 -fsyntax-only -DNETINV_HTTP_VERSION='"t"' $flags "$top/report/http.c" 2>"$dir/cc0.err" || bad=1
[ $bad = 0 ] && ok "curl options are type-checked at compile time (a long, a curl_off_t, a pointer)" ||
	notok "setopt type checks: $(cat "$dir"/cc*.err | head -5)"

# status --json: the documented keys, and reading creates nothing (no lock file, nothing else)
SJ=$dir/sj
$x "$NETINV" --commit-dry-run --state-dir "$SJ" -o /dev/null 2>/dev/null && rm -f "$SJ/lock"
# the directory and its entries, not its parent (where status.json is written, a second later or not)
listing() { { ls -lA --time-style=+%s "$SJ"; stat -c '%a %U %Y' "$SJ"; } | sha256sum; }
before=$(listing)
$x "$NETINV" status --json --state-dir "$SJ" >"$dir/status.json" 2>"$dir/status.err"
rc=$?
after=$(listing)
if [ $rc = 0 ] && [ "$before" = "$after" ] && [ ! -e "$SJ/lock" ] && "$PYTHON" - "$dir/status.json" "$man" <<'PY'; then
import json, re, sys
s = json.load(open(sys.argv[1]))
keys = {"netinv_version", "state_dir", "state_dir_exists", "identity", "server_url", "registration",
        "agent_id", "agent_key", "policy", "last_attempt", "last_success", "backoff", "next_checkin",
        "sequence", "acknowledged", "unconfirmed", "tables_allowed", "namespaces", "commands"}
assert set(s) == keys, set(s) ^ keys
assert s["sequence"] == 1 and s["acknowledged"]["records"]["links"] >= 1, s
assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", s["last_success"]), s["last_success"]
assert s["last_attempt"]["outcome"] == "none" and s["backoff"] == {"failures": 0, "until": None}
# no check-in yet, the default hourly policy: the slot from the identity (no agent id yet)
assert s["next_checkin"]["at"] is None and s["next_checkin"]["slot_from"] == "identity", s
assert 0 <= s["next_checkin"]["slot_seconds"] < 3600, s
man = open(sys.argv[2]).read()
for k in keys:  # every key documented in netinv(8)
    assert "Ql " + k in man, k
PY
	ok "status --json: the documented keys, and nothing created in the state directory"
else
	notok "status --json (exit $rc): $(cat "$dir/status.err") $(ls "$SJ")"
fi
$x "$NETINV" --json --dry-run >/dev/null 2>"$dir/j.err"
[ $? = 64 ] && grep -q "json goes with status" "$dir/j.err" && ok "--json outside status: a usage error" ||
	notok "--json --dry-run: $(cat "$dir/j.err")"
exit $((fails > 0))
