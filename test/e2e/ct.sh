# ferry ct: containers on disk and the built-in runtime, with real namespaces and a busybox rootfs.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/rootfs.sh"

R=$T/root
ct() { "$FERRY" ct --root "$R" "$@"; }
# Whatever a failed case leaves running is stopped (SIGKILL at once) before $T goes.
at_exit 'for c in $(ct list -H -o name 2>/dev/null); do ct stop -t 0 "$c" >/dev/null 2>&1; done'
at_exit '[ -s "$T/ext.pid" ] && kill "$(cat "$T/ext.pid")" 2>/dev/null'
tree_of() { echo "$R/pools/${2:-default}/ct/$1/datasets/${3:-_root}/tree"; }
# Live (not zombie) processes whose PID namespace is NS.
procs_in_ns() {
	local d n=0
	for d in $(find /proc -mindepth 3 -maxdepth 3 -path "/proc/[0-9]*/ns/pid" -lname "pid:?${1//[^0-9]/}?" -printf "%h\n" 2>/dev/null); do
		grep -q '^State:.*Z' "$d/../status" 2>/dev/null || n=$((n + 1))
	done
	echo "$n"
}
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

if [ "$(id -u)" != 0 ]; then
	skip "ct e2e" "needs root (namespaces, mounts)"
	exit 0
fi

# ---- Names and creation ------------------------------------------------------
INIT='trap "echo stopped >/state; exit 0" TERM
echo started >/state
hostname >/hostname.seen
echo $$ >/pid.seen
[ -d /srv/data ] && echo from-inside >/srv/data/hello
i=0
while :; do i=$((i + 1)); echo $i >/ticks; sleep 0.05; done'
rootfs_busybox "$T/rfs" "$INIT" || { echo "FAIL rootfs: cannot build"; exit 1; }
# Things the copy must keep: owners, modes, a symlink, a hard link, an xattr, a FIFO.
mkdir "$T/rfs/data" && echo secret >"$T/rfs/data/f" && chown 1234:5678 "$T/rfs/data/f"
chmod 4750 "$T/rfs/data/f" && ln "$T/rfs/data/f" "$T/rfs/data/hard" && mkfifo "$T/rfs/data/fifo"
setfattr -n user.ferry -v yes "$T/rfs/data/f"
listing() { (cd "$1" && find . -printf '%p %y %m %U:%G %s %n %l\n' | LC_ALL=C sort); }

check "create from a directory" 'ct create web --from "$T/rfs" --hostname webhost --dataset data:/srv/data'
testing "the copy is faithful (find -printf)" 'diff <(listing "$T/rfs") <(listing "$(tree_of web)") && echo same' "same"
testing "the copy keeps xattrs (getfattr)" 'getfattr --only-values -n user.ferry "$(tree_of web)/data/f"' "yes"
testing "list shows it stopped" 'ct list' "POOL     ID   STATE    PID
default  web  stopped  -"
testing "show prints the config" 'ct show web | grep -E "^(name|state|hostname|init|dataset.data) "' \
	"name           default:web
state          stopped
hostname       webhost
init           /sbin/init
dataset.data   /srv/data"
testing "show KEY prints one value" 'ct show web rootfs' "$(tree_of web)"
testing "the config file is the documented text" 'grep -v "^#" "$R/pools/default/ct/web/config"' \
	"hostname = webhost
init = /sbin/init
stop_timeout = 60
start_timeout = 300
network = host
dataset.data = /srv/data"
testing "each dataset has a tree and a state dir" \
	'cd "$R/pools/default/ct/web/datasets" && find . -mindepth 1 -maxdepth 2 | LC_ALL=C sort' \
	"./_root
./_root/state
./_root/tree
./data
./data/state
./data/tree"
fails_with "a second create of the same id" 'ct create web' 1 "container default:web already exists"
testing "...changed nothing" 'diff <(listing "$T/rfs") <(listing "$(tree_of web)") && echo same' "same"

for bad in '../x' 'a/b' '' 'Web' '-x' '.x' 'x y' 'a:b:c' ':x' "$(printf 'x%.0s' {1..64})" 'x;id' '$(id)'; do
	fails_with "create refuses the name '$bad'" 'ct create -- "$bad"' 1 "ferry ct: "
done
fails_with "refusal says what is wrong" 'ct create "../x"' 1 "bad container id '../x': must start with a-z or 0-9"
fails_with "bad pool" 'ct create "../p:x"' 1 "bad pool '../p:x'"
fails_with "dataset name with .." 'ct create d1 --dataset "../x:/x"' 2 "dataset name component"
fails_with "dataset mount point under /proc" 'ct create d1 --dataset "x:/proc/x"' 2 "is the runtime's"
fails_with "dataset mount point relative" 'ct create d1 --dataset "x:srv"' 2 "not an absolute path"
fails_with "--from a missing directory" 'ct create d1 --from "$T/nonexistent"' 1 "No such file or directory"
fails_with "--from a file" 'ct create d1 --from "$T/rfs/etc/passwd"' 1 "not a directory"
fails_with "--from-tar garbage" 'echo garbage >"$T/garbage.tar"; ct create d1 --from-tar "$T/garbage.tar"' 1 "extract with tar exited with status 2"
testing "refused creates left nothing" 'ls -A "$R/pools/default/ct"' "web"
fails_with "unknown command" 'ct frobnicate' 2 "unknown command 'frobnicate'"
fails_with "option of another command" 'ct list -f' 2 "list: option --force does not apply"
fails_with "missing argument" 'ct show' 2 "show: missing arguments"
fails_with "show of a missing container" 'ct show nope' 1 "no container default:nope"

# ---- Start ---------------------------------------------------------------------
check "start" 'ct start web'
PID=$(ct show web pid)
testing "list shows it running with its pid" 'ct list -H' "default	web	running	$PID"
check "the recorded pid is alive" 'alive "$PID"'
testing "init is PID 1 of its own PID namespace (NSpid)" 'awk "/^NSpid:/ {print \$NF}" /proc/$PID/status' "1"
for ns in pid mnt uts ipc; do
	check "new $ns namespace" '[ "$(readlink /proc/$PID/ns/$ns)" != "$(readlink /proc/self/ns/$ns)" ]'
done
testing "network host: our network namespace" '[ "$(readlink /proc/$PID/ns/net)" == "$(readlink /proc/self/ns/net)" ] && echo same' "same"
check "init writes into the root dataset" 'wait_until 30 test -s "$(tree_of web)/ticks"'
testing "its / is the dataset: what it wrote is there" 'cat "$(tree_of web)/state"' "started"
testing "it sees itself as pid 1" 'cat "$(tree_of web)/pid.seen"' "1"
testing "the hostname is set" 'wait_until 30 test -s "$(tree_of web)/hostname.seen"; cat "$(tree_of web)/hostname.seen"' "webhost"
testing "the sub-dataset is mounted at its mount point" 'wait_until 30 test -s "$(tree_of web default data)/hello"; cat "$(tree_of web default data)/hello"' "from-inside"
check "...and not written into the root dataset" '[ ! -e "$(tree_of web)/srv/data/hello" ]'
# The init rewrites ticks (truncate, then write): a read may see it empty, so read until it is not.
ticks_now() {
	local t
	for _ in $(seq 100); do
		t=$(cat "$(tree_of web)/ticks") && [ -n "$t" ] && { echo "$t"; return 0; }
		sleep 0.05
	done
	return 1
}
ticks_above() { local t; t=$(ticks_now) && [ "$t" -gt "$1" ]; }
check "its ticks advance (it runs)" 't0=$(ticks_now) && wait_until 30 ticks_above "$t0"'
testing "/proc, /dev and read-only /sys inside" 'nsenter -t $PID -m -p -- /bin/sh -c "cat /proc/1/comm; ls /dev | tr \"\n\" \" \"; echo; touch /sys/x 2>&1 | grep -c Read-only"' \
	"init
fd full null ptmx pts random shm stderr stdin stdout tty urandom zero 
1"
testing "no container mount leaked into the host" 'grep -c "$R" /proc/self/mountinfo' "0"
testing "init's stdin is /dev/null and its output goes to the log" 'readlink /proc/$PID/fd/0 /proc/$PID/fd/1' \
	"/dev/null
$R/pools/default/ct/web/log"
fails_with "a second start" 'ct start web' 1 "container default:web is already running (pid $PID)"
fails_with "delete refuses a running container" 'ct delete web' 1 "container default:web is running: stop it first"
check "...and it still runs" 'alive "$PID" && [ -d "$(tree_of web)" ]'
fails_with "dataset changes refused while running" 'ct dataset add web x /x' 1 "is running"

# ---- Stop ----------------------------------------------------------------------
NS=$(readlink /proc/$PID/ns/pid)
check "stop (init handles SIGTERM)" 'ct stop web'
testing "init got SIGTERM and exited by itself" 'cat "$(tree_of web)/state"' "stopped"
check "the process is gone" '! alive "$PID"'
testing "nothing left in its PID namespace" 'procs_in_ns "$NS"' "0"
testing "list shows it stopped" 'ct list -H -o state,pid' "stopped	-"
check "the run record is gone" '[ ! -e "$R/pools/default/ct/web/run" ]'
fails_with "stop of a stopped container is no error" 'ct stop web' 0 "container default:web was not running"

# A container whose init ignores SIGTERM and has a child: killed after the timeout, all of it.
rootfs_busybox "$T/stubborn" 'trap "" TERM
sleep 1000 &
while :; do echo $! >/child; sleep 0.05; done' || exit 1
check "create and start a SIGTERM-ignoring container" 'ct create stubborn --from "$T/stubborn" && ct start stubborn'
PID=$(ct show stubborn pid)
NS=$(readlink /proc/$PID/ns/pid)
check "it has a child" 'wait_until 30 test -s "$(tree_of stubborn)/child" && [ "$(procs_in_ns "$NS")" -ge 2 ]'
check "stop -t 1 kills it" 'ct stop -t 1 stubborn'
check "init is gone" '! alive "$PID"'
testing "...and so is everything in its namespace" 'procs_in_ns "$NS"' "0"
check "stop_timeout from the config" 'ct set stubborn stop_timeout 1 && ct start stubborn && PID=$(ct show stubborn pid) && ct stop stubborn && ! alive "$PID"'

# ---- Stale records -------------------------------------------------------------
check "start again" 'ct start web'
PID=$(ct show web pid)
check "kill -9 of init" 'kill -9 "$PID" && wait_until 30 eval "! alive $PID"'
testing "list of a pool that does not exist is empty" 'ct list -H nosuchpool' ""
testing "list shows the crashed container stopped" 'ct list -H -o id,state,pid' "stubborn	stopped	-
web	stopped	-"
check "start works again over the stale record" 'ct start web && [ "$(ct show web pid)" != "$PID" ]'
check "and stop" 'ct stop web'
fails_with "stop after the crash says not running" 'ct start web && PID=$(ct show web pid) && kill -9 $PID && wait_until 30 eval "! alive $PID" && ct stop web' 0 "was not running"
# A recycled pid: the record names a live process (this shell) with another start time.
RUN=$R/pools/default/ct/web/run
printf 'runtime = builtin\npid = %d\nstarttime = 1\nstarted = 0\n' $$ >"$RUN"
testing "a recycled pid is not taken for the container" 'ct show web state' "stopped"
check "delete is not blocked by it either" 'ct create tmp1 && printf "runtime = builtin\npid = %d\nstarttime = 1\nstarted = 0\n" $$ >"$R/pools/default/ct/tmp1/run" && ct delete tmp1'
printf 'runtime = builtin\npid = %d\nstarttime = %s\nstarted = 0\n' $$ "$(awk '{print $22}' /proc/$$/stat)" >"$RUN"
testing "...while the right start time counts as running (the check is real)" 'ct show web state' "running"
rm -f "$RUN"

# ---- Staged containers ------------------------------------------------------------
check "create --staged" 'ct create st1 --from "$T/rfs" --staged'
testing "list shows it staged" 'ct list -H -o id,state | grep st1' "st1	staged"
fails_with "start refuses a staged container" 'ct start st1' 1 "container default:st1 is staged"
check "...and nothing runs" '[ "$(ct show st1 state)" == staged ] && [ ! -e "$(tree_of st1)/ticks" ]'
check "unstage, then start works" 'ct unstage st1 && ct start st1 && [ "$(ct show st1 state)" == running ]'
check "delete -f stops and deletes" 'PID=$(ct show st1 pid) && ct delete -f st1 && ! alive "$PID"'
check "it is gone" '! ct show st1 2>/dev/null && [ ! -e "$R/pools/default/ct/st1" ]'
testing "nothing else remains in the pool" 'ls -A "$R/pools/default/ct"' "stubborn
web"

# ---- Failures at start ------------------------------------------------------------
fails_with "a missing init" 'ct set web init /nonexistent && ct start web' 1 "run init /nonexistent: No such file or directory"
testing "...leaves it stopped" 'ct show web state' "stopped"
check "unset init" 'ct unset web init && [ "$(ct show web init)" == /sbin/init ]'
# A symlink in the container's tree must not lead a mount point out of it.
mkdir "$T/outside"
check "create a container with an escaping symlink" 'ct create evil --from "$T/rfs" --dataset data:/escape/data && ln -s "$T/outside" "$(tree_of evil)/escape"'
fails_with "start refuses a mount point through a symlink" 'ct start evil' 1 "mount point /escape/data (no symlinks allowed)"
testing "...nothing was created or mounted outside" 'ls -A "$T/outside"; grep -c "$T/outside" /proc/self/mountinfo' "0"
testing "...and it is not running" 'ct show evil state' "stopped"
check "delete it" 'ct delete evil'

# ---- Config keys ------------------------------------------------------------------
check "set a key" 'ct set web stop_timeout 5 && [ "$(ct show web stop_timeout)" == 5 ]'
check "set a user key" 'ct set web user.owner "alice smith" && [ "$(ct show web user.owner)" == "alice smith" ]'
fails_with "unknown key" 'ct set web colour blue' 1 "unknown key 'colour'"
fails_with "bad value" 'ct set web stop_timeout soon' 1 "stop_timeout: 'soon' is not a number"
fails_with "bad hostname" 'ct set web hostname "a;b"' 1 "bad hostname"
fails_with "dataset via set needs the dataset" 'ct set web dataset.nope /x' 1 "no such dataset"
testing "refused sets changed nothing" 'grep -E "^(stop_timeout|user.owner|hostname) " "$R/pools/default/ct/web/config"' \
	"hostname = webhost
stop_timeout = 5
user.owner = alice smith"
check "unset a user key" 'ct unset web user.owner && ! grep -q user.owner "$R/pools/default/ct/web/config"'
check "a hand-edited config with an unknown key is refused" 'echo "colour = blue" >>"$R/pools/default/ct/web/config"; ! ct start web 2>"$T/err" && grep -q "unknown key" "$T/err"'
check "fix it" 'sed -i "/^colour/d" "$R/pools/default/ct/web/config" && ct show web >/dev/null'

# ---- Concurrency --------------------------------------------------------------------
setter() { local i; for i in $(seq 1 15); do ct set web "user.$1$i" "$i" || return 1; done; }
check "two concurrent writers" 'setter a & p1=$!; setter b & p2=$!; wait $p1 && wait $p2'
testing "...lost no update" 'grep -c "^user\.[ab][0-9]* = " "$R/pools/default/ct/web/config"' "30"
check "...and the config still parses" 'ct show web >/dev/null'
testing "two concurrent starts: exactly one wins" \
	'(ct start web 2>/dev/null; echo $? >"$T/s1") & (ct start web 2>/dev/null; echo $? >"$T/s2") & wait; cat "$T/s1" "$T/s2" | sort | tr "\n" " "' "0 1 "
check "one container runs" 'alive "$(ct show web pid)" && [ "$(procs_in_ns "$(readlink /proc/$(ct show web pid)/ns/pid)")" -ge 1 ]'
check "stop it" 'ct stop web'

# ---- network = none ------------------------------------------------------------------
rootfs_busybox "$T/netnone" 'ls /sys/class/net >/ifaces; cat /sys/class/net/lo/operstate >/lo.state; ip -o link show lo | grep -q "UP" && echo up >/lo.up
while :; do sleep 0.05; done' || exit 1
check "a container with network none" 'ct create isolated --from "$T/netnone" && ct set isolated network none && ct start isolated'
PID=$(ct show isolated pid)
check "has its own network namespace" '[ "$(readlink /proc/$PID/ns/net)" != "$(readlink /proc/self/ns/net)" ]'
testing "with only lo, up" 'wait_until 30 test -s "$(tree_of isolated)/lo.up"; cat "$(tree_of isolated)/ifaces" "$(tree_of isolated)/lo.up"' "lo
up"
check "stop and delete" 'ct delete -f -t 1 isolated'

# ---- tar archives ---------------------------------------------------------------------
check "create from a tar archive" 'tar --xattrs --xattrs-include="*" --numeric-owner -C "$T/rfs" -cf "$T/rfs.tar" . && ct create fromtar --from-tar "$T/rfs.tar"'
testing "it holds the same tree" 'diff <(listing "$T/rfs") <(listing "$(tree_of fromtar)") && echo same' "same"
testing "with xattrs" 'getfattr --only-values -n user.ferry "$(tree_of fromtar)/data/f"' "yes"
check "from stdin" 'ct create fromstdin --from-tar - <"$T/rfs.tar" && [ -f "$(tree_of fromstdin)/etc/passwd" ]'
check "it starts" 'ct start fromtar && wait_until 30 test -s "$(tree_of fromtar)/ticks" && ct stop fromtar'

# ---- Pools -----------------------------------------------------------------------------
check "a container in another pool" 'ct create tank:web --from "$T/rfs"'
testing "list shows both pools" 'ct list -H -o name' "default:fromstdin
default:fromtar
default:stubborn
default:web
tank:web"
testing "list POOL" 'ct list -H -o name tank' "tank:web"
check "start the pool's web while default:web runs" 'ct start web && ct start tank:web && [ "$(ct show web pid)" != "$(ct show tank:web pid)" ]'
check "stop both" 'ct stop web && ct stop tank:web'

# ---- External runtime: start_cmd, stop_cmd, status_cmd --------------------------------------
cat >"$T/ext-start" <<EOF
#!/bin/sh
echo "start \$1 \$2 \$3 \$FERRY_CT_ID" >>"$T/ext.log"
sleep 1000 >/dev/null 2>&1 &
echo \$! >"$T/ext.pid"
echo "pid=\$!"
EOF
cat >"$T/ext-stop" <<EOF
#!/bin/sh
echo "stop \$1" >>"$T/ext.log"
kill \$(cat "$T/ext.pid")
EOF
chmod +x "$T/ext-start" "$T/ext-stop"
check "external runtime: set the commands" 'ct create ext && ct set ext start_cmd "$T/ext-start %id% %rootfs% %%x" && ct set ext stop_cmd "$T/ext-stop %ct%"'
check "start runs start_cmd" 'ct start ext'
testing "placeholders were expanded, no shell involved" 'cat "$T/ext.log"' "start ext $(tree_of ext) %x ext"
testing "the reported pid is recorded" 'ct list -H -o id,state,pid,runtime | grep "^ext	"' "ext	running	$(cat "$T/ext.pid")	external"
check "stop runs stop_cmd" 'ct stop ext && [ "$(tail -n 1 "$T/ext.log")" == "stop default:ext" ]'
testing "stopped" 'ct show ext state' "stopped"
check "a reported pid that dies makes it stopped" 'ct start ext && kill "$(cat "$T/ext.pid")" && wait_until 30 eval "[ \"\$(ct show ext state)\" == stopped ]"'
testing "status_cmd exit 0 means running" 'ct set ext status_cmd "/bin/test -e $T/ext.flag" && touch "$T/ext.flag" && ct show ext state' "running"
testing "status_cmd exit 1 means stopped" 'rm "$T/ext.flag" && ct show ext state' "stopped"
printf '#!/bin/sh\nexit 3\n' >"$T/ext-status3" && chmod +x "$T/ext-status3"
fails_with "status_cmd other status is an error" 'ct set ext status_cmd "$T/ext-status3"; ct show ext state' 1 "status_cmd exited with status 3"
check "unset status_cmd" 'ct unset ext status_cmd'
fails_with "a failing start_cmd" 'ct set ext start_cmd "/bin/false" && ct start ext' 1 "start_cmd exited with status 1"
testing "...leaves it stopped" 'ct show ext state' "stopped"
check "no shell: metacharacters are plain arguments" 'ct set ext start_cmd "/bin/echo \$(touch $T/pwned);x" && ct start ext && [ ! -e "$T/pwned" ] && ct stop ext 2>/dev/null; true'
check "stop_cmd without start_cmd is refused by the built-in runtime" 'ct create ext2 && ct set ext2 stop_cmd /bin/true && ! ct start ext2 2>"$T/err" && grep -q "start_cmd is not" "$T/err"'

# ---- Delete ----------------------------------------------------------------------------------
check "delete a stopped container" 'ct delete fromstdin && ! ct show fromstdin 2>/dev/null'
testing "no staging or deleted directories remain" 'ls -A "$R/pools/default/ct" | grep -c "^\."' "0"
