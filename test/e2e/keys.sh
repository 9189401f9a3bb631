# Migration keys: keygen's three files checked by ssh-keygen, openssl and dropbearkey; authorized-keys
# checked against ssh-keygen -l; the generated sshd file, exactly; and a real sshd taking the keys.
. "$(dirname "$0")/../lib/testing.sh"
. "$TOP/test/lib/sshd-keys.sh"

FERRY_REAL=$(readlink -f "$FERRY")
host=$(hostname)

# key material ("TYPE BASE64") of a public key line in FILE or on stdin
material() { cut -d' ' -f1,2 "$@"; }
# "BITS SHA256:... (TYPE)" as ssh-keygen -l prints it, without the comment
sshkeygen_l() { ssh-keygen -l -f "$1" | awk '{print $1, $2, $NF}'; }

# ---- keygen: every type and size, three independent oracles ---------------------------------
prev=""
for spec in "ecdsa 256" "ecdsa 384" "ecdsa 521" "rsa 2048" "rsa 3072" "rsa 4096"; do
	set -- $spec
	t=$1 b=$2 R=$T/kg-$t-$b M=$T/kg-$t-$b/conf/migration
	out=$("$FERRY" keygen --root "$R" -t "$t" -b "$b")
	testing "keygen -t $t -b $b prints the key as ssh-keygen -l does" 'echo "$out"' \
		"$(ssh-keygen -l -f "$M/key.pub")"
	testing "keygen -t $t -b $b: ssh-keygen -y of the private key is key.pub" \
		'ssh-keygen -y -f "$M/key" | material' "$(material "$M/key.pub")"
	testing "keygen -t $t -b $b: dropbearkey -y of key.dropbear is key.pub" \
		'dropbearkey -y -f "$M/key.dropbear" | grep -E "^(ecdsa|ssh-rsa)" | material' \
		"$(material "$M/key.pub")"
	testing "keygen -t $t -b $b: the private key has $b bits" \
		'ssh-keygen -l -f "$M/key" | cut -d" " -f1' "$b"
	if [ "$t" = rsa ]; then
		testing "keygen -t rsa -b $b: openssl checks the PKCS#1 key" \
			'head -n1 "$M/key"; openssl rsa -in "$M/key" -check -noout 2>&1' \
			$'-----BEGIN RSA PRIVATE KEY-----\nRSA key ok'
	else
		testing "keygen -t ecdsa -b $b: openssl checks the SEC1 key" \
			'head -n1 "$M/key"; openssl ec -in "$M/key" -check -noout 2>&1' \
			$'-----BEGIN EC PRIVATE KEY-----\nread EC key\nEC Key valid.'
	fi
	testing "keygen -t $t -b $b: modes 600 key, 600 key.dropbear, 644 key.pub" \
		'stat -c "%a %n" "$M/key" "$M/key.dropbear" "$M/key.pub" | sed "s|$M/||"' \
		$'600 key\n600 key.dropbear\n644 key.pub'
	testing "keygen -t $t -b $b: comment root@HOSTNAME" 'cut -d" " -f3- "$M/key.pub"' "root@$host"
	if [ -n "$prev" ]; then # the negative twin of the oracles: another key does not match
		testing "keygen -t $t -b $b: the previous key's private file does not match this key.pub" \
			'[ "$(ssh-keygen -y -f "$prev/key" | material)" != "$(material "$M/key.pub")" ] && echo differs' \
			differs
	fi
	prev=$M
done

R=$T/node
M=$R/conf/migration
testing "keygen defaults to ecdsa P-521" '"$FERRY" keygen --root "$R" | cut -d" " -f1,4' "521 (ECDSA)"
sum_before=$(sha256sum "$M"/key*)
fails_with "keygen refuses to overwrite a key pair" '"$FERRY" keygen --root "$R"' 1 \
	"a key pair already exists ($M/key): use -f to replace it"
fails_with "keygen -t rsa refuses to overwrite too" '"$FERRY" keygen --root "$R" -t rsa -b 2048' 1 \
	"use -f to replace it"
testing "the refused keygen changed nothing" 'sha256sum "$M"/key*' "$sum_before"
rm "$M/key.pub"
fails_with "keygen refuses when only the private key is left" '"$FERRY" keygen --root "$R"' 1 \
	"a key pair already exists ($M/key)"
old_fp=$(ssh-keygen -l -f "$M/key" | cut -d" " -f2)
testing "keygen -f replaces the pair" \
	'"$FERRY" keygen --root "$R" -f -b 256 | cut -d" " -f1,4; ssh-keygen -l -f "$M/key" | cut -d" " -f1' \
	$'256 (ECDSA)\n256'
check "keygen -f made a new key" '[ "$(ssh-keygen -l -f "$M/key" | cut -d" " -f2)" != "$old_fp" ]'
testing "keygen -f keeps the modes" 'stat -c %a "$M/key" "$M/key.dropbear" "$M/key.pub"' $'600\n600\n644'
testing "keygen -f pair still matches" 'ssh-keygen -y -f "$M/key" | material' "$(material "$M/key.pub")"

fails_with "keygen -t ed25519 is refused plainly" '"$FERRY" keygen --root "$T/x" -t ed25519' 2 \
	"-t ed25519: not supported: ferry keygen makes ecdsa and rsa keys (BearSSL has no Ed25519 signing)"
fails_with "keygen -t dsa is refused plainly" '"$FERRY" keygen --root "$T/x" -t dsa' 2 \
	"-t dsa: not supported: ferry keygen makes ecdsa and rsa keys"
fails_with "keygen -t foo" '"$FERRY" keygen --root "$T/x" -t foo' 2 "-t foo: unknown key type"
fails_with "keygen -b 512 (ecdsa)" '"$FERRY" keygen --root "$T/x" -b 512' 2 \
	"ecdsa keys have 256, 384 or 521 bits"
fails_with "keygen -t rsa -b 1024" '"$FERRY" keygen --root "$T/x" -t rsa -b 1024' 2 "out of range (2048..4096)"
fails_with "keygen -t rsa -b 8192" '"$FERRY" keygen --root "$T/x" -t rsa -b 8192' 2 "out of range (2048..4096)"
fails_with "keygen -b junk" '"$FERRY" keygen --root "$T/x" -b 25x' 2 "not a number"
testing "refused keygens created nothing" '[ -e "$T/x" ] && echo exists || echo none' none
mkdir -m 0777 "$T/open" && chmod 0777 "$T/open"
fails_with "keygen refuses a world-writable root" '"$FERRY" keygen --root "$T/open"' 1 \
	"writable by group or others"

testing "keygen path prints the public key's absolute path" '"$FERRY" keygen --root "$R" path' "$M/key.pub"
testing "keygen path public|private|dropbear" \
	'for w in public private dropbear; do "$FERRY" keygen --root "$R" path $w; done' \
	"$M/key.pub"$'\n'"$M/key"$'\n'"$M/key.dropbear"
testing "keygen path through FERRY_ROOT" 'FERRY_ROOT="$R" "$FERRY" keygen path private' "$M/key"
testing "keygen path with a relative root is absolute" '(cd "$T" && "$FERRY" keygen --root node path)' \
	"$M/key.pub"
fails_with "keygen path without a key" '"$FERRY" keygen --root "$T/none" path' 1 \
	"no key yet: run 'ferry keygen' first"
fails_with "keygen path bogus" '"$FERRY" keygen --root "$R" path secret' 2 "not public, private or dropbear"
fails_with "keygen path -f" '"$FERRY" keygen --root "$R" path -f' 2 "path takes no -t, -b or -f"
fails_with "keygen bogus command" '"$FERRY" keygen --root "$R" show' 2 "unknown command 'show'"

# ---- authorized-keys: ssh-keygen-made keys of every accepted type ----------------------------
K=$T/client-keys
mkdir -p "$K"
for spec in "ed25519" "ecdsa 256" "ecdsa 384" "ecdsa 521" "rsa 2048" "rsa 1024" "dsa 1024"; do
	set -- $spec
	ssh-keygen -q -t "$1" ${2:+-b "$2"} -N "" -C "user@client-$1${2:+-$2}" -f "$K/$1${2:+-$2}"
done
D=$T/dest
DM=$D/conf/migration
AK() { "$FERRY" authorized-keys --root "$D" "$@"; }

names=()
for k in ed25519 ecdsa-256 ecdsa-384 ecdsa-521 rsa-2048; do
	testing "authorized-keys add $k (ssh-keygen made)" 'AK add "k-$k" <"$K/$k.pub"' \
		"added k-$k ($(ssh-keygen -l -f "$K/$k.pub" | cut -d' ' -f2))"
	names+=("k-$k")
done
testing "add of keygen's key, name from its comment" 'AK add <"$("$FERRY" keygen --root "$R" path)"' \
	"added $host ($(ssh-keygen -l -f "$M/key.pub" | cut -d' ' -f2))"
names+=("$host")
pubs=("$K/ed25519.pub" "$K/ecdsa-256.pub" "$K/ecdsa-384.pub" "$K/ecdsa-521.pub" "$K/rsa-2048.pub" "$M/key.pub")

testing "list fingerprints, bits and types are ssh-keygen -l's" \
	'AK list | awk "NR > 1 {print \$4, \$5}"' \
	"$(for p in "${pubs[@]}"; do ssh-keygen -l -f "$p" | cut -d' ' -f1,2; done)"
testing "list names, types, restrictions, comments" 'AK list | awk "NR > 1 {print \$1, \$2, \$3, \$6, \$7}"' \
	"1 k-ed25519 ssh-ed25519 - user@client-ed25519
2 k-ecdsa-256 ecdsa-sha2-nistp256 - user@client-ecdsa-256
3 k-ecdsa-384 ecdsa-sha2-nistp384 - user@client-ecdsa-384
4 k-ecdsa-521 ecdsa-sha2-nistp521 - user@client-ecdsa-521
5 k-rsa-2048 ssh-rsa - user@client-rsa-2048
6 $host $(cut -d' ' -f1 "$M/key.pub") - root@$host"
testing "list is aligned (every FINGERPRINT column starts at the same place)" \
	'AK list | awk "{print index(\$0, \"SHA256:\") ? index(\$0, \"SHA256:\") : index(\$0, \"FINGERPRINT\")}" | sort -u | wc -l' 1

# The sshd file: exactly one restricted line per key, built here independently.
expected_sshd() {
	local i
	echo "# Generated by 'ferry authorized-keys' from allowed-keys; edits here are lost."
	for i in "${!names[@]}"; do
		printf 'command="%s receive --root %s --key %s",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding %s\n' \
			"$FERRY_REAL" "$(readlink -f "$D")" "${names[$i]}" "$(cat "${pubs[$i]}")"
	done
}
testing "the sshd file is exactly the restricted command lines" 'cat "$DM/authorized_keys"' "$(expected_sshd)"
testing "ssh-keygen reads every line of the sshd file" 'ssh-keygen -l -f "$DM/authorized_keys" | wc -l' 6
testing "registry and sshd file modes" 'stat -c %a "$DM/allowed-keys" "$DM/authorized_keys" "$DM"' \
	$'644\n644\n755'
testing "authorized-keys path" 'AK path' "$(readlink -f "$DM")/authorized_keys"
testing "authorized-keys path before any key exists" \
	'"$FERRY" authorized-keys --root "$T/later" path; [ -e "$T/later" ] || echo "nothing created"' \
	"$T/later/conf/migration/authorized_keys"$'\nnothing created'
testing "list of an empty registry prints nothing" '"$FERRY" authorized-keys --root "$T/later" list' ""

# Refusals: exit 1 (or 2 for usage), a clear message, and the registry unchanged.
reg_before=$(sha256sum "$DM/allowed-keys" "$DM/authorized_keys")
refuse() { # NAME INPUT STATUS TEXT [ARGS...]
	local name=$1 input=$2 st=$3 text=$4
	shift 4
	refuse_args=("$@")
	printf '%s' "$input" >"$T/input"
	fails_with "add refuses $name" 'AK add "${refuse_args[@]}" <"$T/input"' "$st" "$text"
}
refuse "garbage" "hello world" 1 "unknown key type 'hello'"
refuse "empty input" "" 1 "no key"
refuse "a DSA key" "$(cat "$K/dsa-1024.pub")" 1 "ssh-dss (DSA) keys are not supported"
refuse "a 1024-bit RSA key" "$(cat "$K/rsa-1024.pub")" 1 "ssh-rsa key of 1024 bits is too small"
refuse "a command= option" "command=\"/bin/sh\" $(cat "$K/ed25519.pub")" 1 "key options are not accepted"
refuse "a restrict option" "restrict $(cat "$K/ed25519.pub")" 1 "key options are not accepted"
refuse "an escape character" "$(cat "$K/ed25519.pub")"$'\e[2J' 1 "control character 0x1b"
refuse "a carriage return" "$(cat "$K/ed25519.pub")"$'\r\n' 1 "control character 0x0d"
refuse "two lines" "$(cat "$K/ed25519.pub" "$K/ecdsa-256.pub")" 1 "more than one line"
refuse "a private key" "$(cat "$K/ed25519")" 1 "not a public key line: give the .pub file"
refuse "a truncated key" "$(cut -c1-60 "$K/ed25519.pub")" 1 "Ed25519 key: truncated"
refuse "a key with bad base64" "$(cut -c1-61 "$K/ed25519.pub")" 1 "ssh-ed25519: key data: base64"
refuse "a tampered key (mismatched type)" "ssh-rsa $(cut -d' ' -f2 "$K/ed25519.pub")" 1 \
	"key type 'ssh-rsa' does not match the key inside (ssh-ed25519)"
refuse "the same key under its name" "$(cat "$K/ed25519.pub")" 1 "already allowed as 'k-ed25519'" k-ed25519
refuse "the same key under another name" "$(cat "$K/ed25519.pub")" 1 "already allowed as 'k-ed25519'" other
ssh-keygen -q -t ed25519 -N "" -C new@client -f "$K/new"
refuse "a used name" "$(cat "$K/new.pub")" 1 "the name 'k-rsa-2048' is already used" k-rsa-2048
refuse "an all-digit name" "$(cat "$K/new.pub")" 2 "bad key name '12'" 12
refuse "a name with a space" "$(cat "$K/new.pub")" 2 "bad key name 'a b'" "a b"
refuse "--from with a host name" "$(cat "$K/new.pub")" 2 "host names are not resolved" --from node1.example
refuse "--ctid with a space" "$(cat "$K/new.pub")" 2 "not allowed" --ctid "a b"
head -c 10000 /dev/zero | tr '\0' 'A' >"$T/big"
fails_with "add refuses a huge input" 'AK add <"$T/big"' 1 "longer than a key line"
testing "the refusals changed nothing" 'sha256sum "$DM/allowed-keys" "$DM/authorized_keys"' "$reg_before"
fails_with "no command" 'AK' 2 "missing command"
fails_with "unknown command" 'AK frob' 2 "unknown command 'frob'"
fails_with "--ctid outside add" 'AK list --ctid x' 2 "options of add"
fails_with "del needs one selector" 'AK del' 2 "del takes one"

# Restrictions, shown by list and written only as --key NAME in the sshd file.
testing "add with restrictions" \
	'AK add new --ctid "web*" --from "127.0.0.*,::1" --single-use <"$K/new.pub" | cut -d" " -f1,2' "added new"
testing "list shows the restrictions" 'AK list | awk "\$2 == \"new\" {print \$6}"' \
	"ctid=web*;from=127.0.0.*,::1;single-use"
testing "the restricted key's sshd line carries only its name" \
	'grep -c -- "--key new\",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding ssh-ed25519 " "$DM/authorized_keys"' 1

# del by index, name and fingerprint.
fp384=$(ssh-keygen -l -f "$K/ecdsa-384.pub" | cut -d' ' -f2)
testing "del by index" 'AK del 1' "deleted k-ed25519 ($(ssh-keygen -l -f "$K/ed25519.pub" | cut -d' ' -f2))"
testing "del by name" 'AK del k-rsa-2048 | cut -d" " -f1,2' "deleted k-rsa-2048"
testing "del by fingerprint" 'AK del "$fp384" | cut -d" " -f1,2' "deleted k-ecdsa-384"
testing "list after the dels" 'AK list | awk "NR > 1 {print \$1, \$2}"' \
	$'1 k-ecdsa-256\n2 k-ecdsa-521\n3 '"$host"$'\n4 new'
testing "the sshd file lost exactly those keys" \
	'grep -o -- "--key [^\"]*" "$DM/authorized_keys"' \
	$'--key k-ecdsa-256\n--key k-ecdsa-521\n--key '"$host"$'\n--key new'
fails_with "del of a missing name" 'AK del k-ed25519' 1 "no key named 'k-ed25519'"
fails_with "del of a missing index" 'AK del 9' 1 "no key number 9 (there are 4)"
fails_with "del of a missing fingerprint" 'AK del "$fp384"' 1 "no key with fingerprint $fp384"

# sync rewrites the sshd file (e.g. after a hand edit or a moved binary).
echo "ssh-ed25519 AAAA injected" >>"$DM/authorized_keys"
testing "sync restores the sshd file" 'AK sync; grep -c injected "$DM/authorized_keys"' 0
testing "sync keeps every key" 'grep -c "^command=" "$DM/authorized_keys"' 4
cp "$FERRY" "$T/ferry-moved"
testing "sync from a moved binary points sshd at it" \
	'"$T/ferry-moved" authorized-keys --root "$D" sync; grep -c "^command=\"$T/ferry-moved receive" "$DM/authorized_keys"' 4
cp "$FERRY" "$T/ferry moved"
fails_with "sync refuses a binary path the shell would split" '"$T/ferry moved" authorized-keys --root "$D" sync' 1 \
	"cannot go into sshd's command="
AK sync

# A damaged registry is refused, not half-read.
cp "$DM/allowed-keys" "$T/reg-backup"
printf 'k1\tssh-ed25519\tAAAA\n' >>"$DM/allowed-keys"
fails_with "a damaged registry is refused with its line" 'AK list' 1 "allowed-keys: line 6: 3 fields instead of 7"
cp "$T/reg-backup" "$DM/allowed-keys"

# Concurrent adds: none is lost.
C=$T/conc
for i in $(seq 1 12); do ssh-keygen -q -t ed25519 -N "" -C "c$i@conc" -f "$K/c$i"; done
for i in $(seq 1 12); do "$FERRY" authorized-keys --root "$C" add "c$i" <"$K/c$i.pub" >/dev/null & done
wait
testing "12 concurrent adds: 12 keys listed" '"$FERRY" authorized-keys --root "$C" list | tail -n +2 | wc -l' 12
testing "12 concurrent adds: 12 sshd lines" 'grep -c "^command=" "$C/conf/migration/authorized_keys"' 12

# ---- A real sshd takes the keys --------------------------------------------------------------
if reason=$(sshd_keys_can_run 2>&1); then
	# StrictModes: the node root must be in root-owned, not group/world-writable directories.
	S=$(mktemp -d /run/ferry-keys-test.XXXXXX)
	chmod 0755 "$S"
	at_exit "rm -rf '$S'"
	N=$S/node
	"$FERRY" keygen --root "$N" >/dev/null
	"$FERRY" authorized-keys --root "$N" add src <"$("$FERRY" keygen --root "$N" path)" >/dev/null
	if sshd_keys_start "$S/sshd" "$("$FERRY" authorized-keys --root "$N" path)"; then
		fp=$(ssh-keygen -l -f "$N/conf/migration/key.pub" | cut -d' ' -f2)
		check "ssh -i keygen's key runs the forced ferry receive" '
			err=$(sshd_keys_ssh "$("$FERRY" keygen --root "$N" path private)" 2>&1 >/dev/null)
			rc=$?; echo "ssh status $rc: $err"; [ $rc != 255 ] && [[ $err == *receive* ]]'
		check "sshd accepted exactly that key from the ferry file" \
			'grep "Accepted publickey for root" "$SSHD_KEYS_LOG" | grep -q "$fp"'
		check "a command asked for is not run (forced command wins)" '
			out=$(sshd_keys_ssh "$("$FERRY" keygen --root "$N" path private)" "echo pwned; id" 2>&1)
			# receive quotes the refused command in its message; run, it would print "pwned" alone.
			echo "$out"; ! grep -qx pwned <<<"$out" && [[ $out != *uid=* ]] &&
			[[ $out == *"not a receive command"* ]]'
		check "dbclient -i key.dropbear is accepted too" '
			n=$(grep -c "Accepted publickey for root.*$fp" "$SSHD_KEYS_LOG")
			err=$(sshd_keys_dbclient "$("$FERRY" keygen --root "$N" path dropbear)" 2>&1 >/dev/null)
			rc=$?; echo "dbclient status $rc: $err"; [[ $err == *receive* ]] &&
			[ "$(grep -c "Accepted publickey for root.*$fp" "$SSHD_KEYS_LOG")" = $((n + 1)) ]'
		fails_with "a key not in the file is denied" 'sshd_keys_ssh "$K/ecdsa-256"' 255 "Permission denied (publickey)"
		"$FERRY" authorized-keys --root "$N" del src >/dev/null
		fails_with "after del, the key is denied" \
			'sshd_keys_ssh "$("$FERRY" keygen --root "$N" path private)"' 255 "Permission denied (publickey)"
	else
		skip "ssh with keygen's key" "sshd did not start"
	fi
else
	skip "ssh with keygen's key" "$reason"
fi
