# ferry rapi: the API with curl and Python as clients: resources, Ganeti's auth and error rules, jobs,
# /wait semantics, cancel, SIGHUP, SIGTERM and a restart after a crash.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/cluster.sh"

if [ "$(id -u)" != 0 ]; then
	skip "rapi e2e" "needs root (containers)"
	exit 0
fi
PY=/usr/bin/python3

# ---- First start ------------------------------------------------------------------------------
cluster_start a || { echo "FAIL the API server starts"; exit 1; }
echo "PASS first start creates the certificate, users and password files"
testing "they are private" 'stat -c "%a %n" "$T"/a/conf/cluster/{rapi.pem,rapi-users,rapi-password} | sed "s|$T/||"' \
	"600 a/conf/cluster/rapi.pem
600 a/conf/cluster/rapi-users
600 a/conf/cluster/rapi-password"
check "the log says where they are" 'grep -q "created the users file $T/a/conf/cluster/rapi-users" "$T/a.log"'
fails_with "a second server on the same root is refused" '"$FERRY" rapi --root "$T/a" --bind 127.0.0.1 --port 1' 1 "another ferry rapi serves $T/a"
fails_with "--bind wants an address" '"$FERRY" rapi --root "$T/x" --bind localhost' 2 "--bind: 'localhost' is not an IP address"

ct_busybox a web && ctc a start web >/dev/null
ct_busybox a idle

# ---- Resources ---------------------------------------------------------------------------------
testing "GET /version (curl --cacert)" 'capi_anon a /version' "2"
testing "GET /2/info: the one-node cluster and its allocator" \
	'capi_anon a /2/info | jv "[v[\"name\"], v[\"master\"], v[\"default_iallocator\"], v[\"compression_tools\"]]"' \
	'["a", "a-node", "ferry-single", ["none", "lz4"]]'
testing "GET /2/features lists what ferry implements: instance-create-reqv1" 'capi_anon a /2/features' '["instance-create-reqv1"]'
testing "GET /2/instances" 'capi_anon a /2/instances' '[{"id":"idle","uri":"/2/instances/idle"},{"id":"web","uri":"/2/instances/web"}]'
testing "GET /2/instances?bulk=1" 'capi_anon a "/2/instances?bulk=1" | jv "[(i[\"name\"], i[\"status\"], i[\"admin_state\"]) for i in v]"' \
	'[["idle", "ADMIN_down", false], ["web", "running", true]]'
testing "GET /2/instances/web" 'capi_anon a /2/instances/web | jv "[v[\"pnode\"], v[\"hypervisor\"], v[\"disk_template\"], v[\"hvparams\"][\"init\"], len(v[\"disk.sizes\"]), v[\"tags\"]]"' \
	'["a-node", "ferry", "file", "/sbin/init", 1, []]'
testing "an unknown instance is 404 with Ganeti's error body" 'capi_anon a /2/instances/nope' \
	'{"code":404,"explain":"Instance '"'"'nope'"'"' not known","message":"Not Found"}'
testing "a name ferry cannot hold is 404 and says why" 'capi_anon a /2/instances/Web | jv "v[\"explain\"]"' \
	"Instance 'Web' not known: bad instance name 'Web': must start with a-z or 0-9"
testing "an unknown resource is 404" 'capi_anon a -o /dev/null -w "%{http_code}" /2/nodes/x' "404"
testing "an unsupported method is 501" 'capi_anon a -o /dev/null -w "%{http_code}" -X PATCH /2/info' "501"

# ---- Authentication and rights -----------------------------------------------------------------
testing "a write without credentials is 401 with WWW-Authenticate" \
	'capi_anon a -i -X PUT "/2/instances/web/prepare-export?mode=remote" | tr -d "\r" | grep -E "^(HTTP|WWW-Authenticate)"' \
	'HTTP/1.1 401 Unauthorized
WWW-Authenticate: Basic realm="Ganeti Remote API"'
testing "a wrong password is 401" 'capi_anon a -u ferry:wrong -o /dev/null -w "%{http_code}" /2/info' "401"
testing "an unknown user is 401" 'capi_anon a -u nobody:x -o /dev/null -w "%{http_code}" /2/info' "401"
testing "job waits need the write right" 'capi_anon a -o /dev/null -w "%{http_code}" -X GET -H "Content-Type: application/json" -d "{\"fields\":[\"status\"]}" /2/jobs/1/wait' "401"
# a read-only user and an {HA1} user, added while the server runs: SIGHUP reloads the file
HA1=$(printf 'writer:Ganeti Remote API:s3cret' | md5sum | cut -d' ' -f1)
printf 'reader r34d read\nwriter {HA1}%s write\n' "$HA1" >>"$T/a/conf/cluster/rapi-users"
testing "before SIGHUP the new user is unknown" 'capi_anon a -u reader:r34d -o /dev/null -w "%{http_code}" /2/info' "401"
kill -HUP "${CL_PID[a]}"
wait_until 10 grep -q "SIGHUP: reloaded 3 users" "$T/a.log"
testing "after SIGHUP it can read" 'capi_anon a -u reader:r34d /version' "2"
testing "but a read-only user's write is 403" 'capi_anon a -u reader:r34d -X PUT -o /dev/null -w "%{http_code}" "/2/instances/web/prepare-export?mode=remote"' "403"
testing "an {HA1} password works (md5sum's digest)" 'capi_anon a -u writer:s3cret -X PUT "/2/instances/idle/prepare-export?mode=remote" | grep -cE "^[0-9]+$"' "1"
printf 'broken line\n' >>"$T/a/conf/cluster/rapi-users"
kill -HUP "${CL_PID[a]}"
wait_until 10 grep -q "SIGHUP: keeping the old users" "$T/a.log"
testing "a broken users file is not loaded: the old users stay" 'capi_anon a -u reader:r34d /version' "2"

# ---- Bodies -------------------------------------------------------------------------------------------
testing "a body that is not JSON is 415" 'capi a -o /dev/null -w "%{http_code}" -X POST -H "Content-Type: text/plain" -d "hello" /2/instances' "415"
testing "malformed JSON is 400" 'capi a -X POST -H "Content-Type: application/json" -d "{\"a\":" /2/instances | jv "[v[\"code\"], v[\"explain\"][:25]]"' \
	'[400, "Unable to parse JSON data"]'
testing "only remote imports create instances" 'capi a -X POST -H "Content-Type: application/json" -d "{\"__version__\":1,\"mode\":\"create\",\"name\":\"x\"}" /2/instances | jv "v[\"code\"]"' "400"
testing "request version 1 only" 'capi a -X POST -H "Content-Type: application/json" -d "{\"mode\":\"remote-import\"}" /2/instances | jv "v[\"explain\"]"' \
	"Unsupported request data version (only __version__ 1 is supported)"
testing "an export that removes a running source without shutting it down is refused, as in Ganeti" \
	'capi a -X PUT -H "Content-Type: application/json" -d "{\"mode\":\"remote\",\"shutdown\":false,\"remove_instance\":true}" /2/instances/web/export | jv "[v[\"code\"], v[\"explain\"]]"' \
	'[400, "Can not remove instance without shutting it down before"]'
testing "...and the source still runs" 'ctc a list -H -o name,state | grep web' "default:web	running"
testing "local exports are refused" 'capi a -X PUT "/2/instances/web/prepare-export?mode=local" | jv "v[\"code\"]"' "400"

# ---- Jobs ---------------------------------------------------------------------------------------------
J=$(capi_anon a "/2/instances/web/info?static=1")
testing "the info job's id is a bare number" 'echo "$J" | grep -cE "^[0-9]+$"' "1"
testing "it succeeds" 'job_wait a "$J"' "success"
testing "its result is {NAME: info} as move-instance reads it" \
	'capi a "/2/jobs/$J" | jv "[list(v[\"opresult\"][0]), v[\"opresult\"][0][\"web\"][\"config_state\"], v[\"opresult\"][0][\"web\"][\"disks\"][0][\"name\"], v[\"opresult\"][0][\"web\"][\"disks\"][0][\"mode\"], v[\"opresult\"][0][\"web\"][\"nics\"], v[\"opresult\"][0][\"web\"][\"hv_instance\"][\"init\"]]"' \
	'[["web"], "up", "/", "rw", [], "/sbin/init"]'
testing "the record has Ganeti's fields" 'capi a "/2/jobs/$J" | jv "sorted(v)"' \
	'["end_ts", "id", "oplog", "opresult", "ops", "opstatus", "received_ts", "start_ts", "status", "summary"]'
wait_body() { printf '{"fields":["status"],"previous_job_info":%s,"previous_log_serial":%s}' "$1" "$2"; }
testing "/wait on a finished job answers at once, even unchanged" \
	'capi a -X GET -H "Content-Type: application/json" -d "$(wait_body "[\"success\"]" 99)" "/2/jobs/$J/wait"' \
	'{"job_info":["success"],"log_entries":[]}'
testing "/wait for an unknown job is 404" 'capi a -o /dev/null -w "%{http_code}" -X GET -H "Content-Type: application/json" -d "$(wait_body null null)" /2/jobs/999/wait' "404"
testing "/wait checks its fields" 'capi a -X GET -H "Content-Type: application/json" -d "{\"fields\":[\"bogus\"]}" "/2/jobs/$J/wait" | jv "v[\"code\"]"' "400"
testing "GET /2/jobs lists it" 'capi_anon a /2/jobs | jv "[\"/2/jobs/$J\" in [j[\"uri\"] for j in v]]"' "[true]"

# A long-running job: an import into this same cluster that waits for its source.
SPEC_A="${CL_IP[a]},$T/a.pem,$T/a.pw"
DJ=$("$PY" "$TOP/test/lib/rapi_move.py" "$SPEC_A" "$SPEC_A" idle --name incoming --stop-after import)
testing "a remote import waits for its data (the job runs)" 'capi a "/2/jobs/$DJ" | jv "v[\"status\"]"' "running"
testing "the half instance is hidden while it is received" 'capi_anon a -o /dev/null -w "%{http_code}" /2/instances/incoming' "404"
testing "exactly one remote-import entry, with disks and x509_ca" \
	'capi a "/2/jobs/$DJ" | jv "[(e[2], sorted(e[3])) for e in v[\"oplog\"][0] if e[2] == \"remote-import\"]"' \
	'[["remote-import", ["disks", "x509_ca"]]]'
LAST=$(capi a "/2/jobs/$DJ" | jv "max(e[0] for e in v[\"oplog\"][0])")
testing "/wait answers null after ~10 s without change" \
	'capi a -X GET -H "Content-Type: application/json" -d "$(wait_body "[\"running\"]" "$LAST")" "/2/jobs/$DJ/wait"' "null"
testing "DELETE cancels it" 'capi a -X DELETE "/2/jobs/$DJ"' "[true,\"Job $DJ will be canceled\"]"
testing "it ends canceled" 'job_wait a "$DJ"' "canceled"
testing "the half-received instance is gone" 'ls "$T/a/pools/default/ct" | grep -c incoming' "0"
testing "a finished job cannot be canceled" 'capi a -X DELETE "/2/jobs/$DJ"' "[false,\"Job $DJ has already finished\"]"

# A crash while an import runs: the restart records the job as failed and removes the half instance.
DJ=$("$PY" "$TOP/test/lib/rapi_move.py" "$SPEC_A" "$SPEC_A" idle --name crashed --stop-after import)
cluster_stop a KILL
check "the server was killed (-9) during an import: the half instance is still on disk" '[ -d "$T/a/pools/default/ct/crashed" ]'
cluster_restart a || { echo "FAIL restart after the crash"; exit 1; }
testing "the interrupted job is recorded as failed" 'capi a "/2/jobs/$DJ" | jv "[v[\"status\"], v[\"opresult\"]]"' \
	'["error", [["OpExecError", ["the API server stopped while the job ran"]]]]'
testing "and the half-received instance was removed" 'ls "$T/a/pools/default/ct" | grep -c crashed' "0"
testing "older jobs are not forgotten" 'capi a "/2/jobs/$J" | jv "v[\"status\"]"' "success"

# SIGTERM while an import runs: the job is canceled and cleaned up, the server stops.
DJ=$("$PY" "$TOP/test/lib/rapi_move.py" "$SPEC_A" "$SPEC_A" idle --name stopping --stop-after import)
cluster_stop a TERM
check "SIGTERM stopped the server and it said so" 'grep -q "Terminated: stopping" "$T/a.log" && tail -n 1 "$T/a.log" | grep -q "stopped$"'
testing "the half instance was removed" 'ls "$T/a/pools/default/ct" | grep -c stopping' "0"
cluster_restart a || { echo "FAIL restart after SIGTERM"; exit 1; }
testing "the job was recorded as canceled" 'capi a "/2/jobs/$DJ" | jv "v[\"status\"]"' "canceled"
testing "the running container was left alone" 'ctc a list -H -o id,state | grep web' "web	running"
ctc a stop -t 0 web >/dev/null
