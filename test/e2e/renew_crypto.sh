# renew-crypto: the cluster domain secret and the API key + certificate, checked with stat, openssl and sha256sum.
. "$(dirname "$0")/../lib/testing.sh"

A=$T/a B=$T/b
dir=$A/conf/cluster
rc() { "$FERRY" renew-crypto "$@"; }

# ---- Domain secret ---------------------------------------------------------
check "new secret is created" 'rc --root "$A" --new-cluster-domain-secret'
testing "secret file: 40 lowercase hex digits and a newline" \
	'grep -cEx "[0-9a-f]{40}" "$dir/domain-secret"; wc -c <"$dir/domain-secret"' $'1\n41'
testing "secret file mode is 0600" 'stat -c %a "$dir/domain-secret"' "600"
sum=$(sha256sum <"$dir/domain-secret")
fails_with "a second secret needs -f" 'rc --root "$A" --new-cluster-domain-secret' 1 \
	"a cluster domain secret exists already; use -f to replace it"
testing "the refused renewal left the secret alone" 'sha256sum <"$dir/domain-secret"' "$sum"
check "-f replaces the secret" 'rc --root "$A" --new-cluster-domain-secret -f >/dev/null'
check "the replaced secret differs and is still 0600" \
	'[ "$(sha256sum <"$dir/domain-secret")" != "$sum" ] && [ "$(stat -c %a "$dir/domain-secret")" = 600 ]'

# The fingerprint is HMAC-SHA256(secret, label), first 16 bytes: recomputed with openssl.
secret=$(cat "$dir/domain-secret")
want=$(printf 'ferry domain secret fingerprint v1' |
	openssl dgst -sha256 -mac HMAC -macopt "key:$secret" | sed 's/.*= //' | cut -c1-32)
testing "--show prints the secret's fingerprint (openssl's HMAC)" \
	'rc --root "$A" --show | grep ^domain-secret:' "domain-secret: fingerprint $want"
testing "--show never prints the secret" 'rc --root "$A" --show | grep -c "$secret"' "0"

# Installing another cluster's copy: both show the same fingerprint.
printf '\n\r\n%s\r\n\n' "$secret" >"$T/copy"
check "--cluster-domain-secret=FILE installs a copy" 'rc --root "$B" --cluster-domain-secret="$T/copy" >/dev/null'
testing "the installed copy holds the key line only" 'cat "$B/conf/cluster/domain-secret"' "$secret"
testing "both clusters show the same fingerprint" \
	'diff <(rc --root "$A" --show | grep ^domain) <(rc --root "$B" --show | grep ^domain) && echo same' "same"
echo "a different secret" >"$T/other"
check "another secret: another fingerprint" 'rc --root "$B" -f --cluster-domain-secret "$T/other" >/dev/null &&
	[ "$(rc --root "$A" --show | grep ^domain)" != "$(rc --root "$B" --show | grep ^domain)" ]'
testing "spaces in the line are kept (Ganeti does not strip them)" \
	'echo " spaced key " | rc --root "$B" -f --cluster-domain-secret=- >/dev/null && cat -A "$B/conf/cluster/domain-secret"' \
	' spaced key $'
printf 'one\ntwo\n' >"$T/two-lines"
fails_with "two non-empty lines are refused" 'rc --root "$B" -f --cluster-domain-secret="$T/two-lines"' 1 \
	"more than one non-empty line"
: >"$T/empty"
fails_with "an empty file is refused" 'rc --root "$B" -f --cluster-domain-secret="$T/empty"' 1 "no data"
fails_with "a missing file is refused" 'rc --root "$B" -f --cluster-domain-secret="$T/nope"' 1 \
	"$T/nope: No such file or directory"
testing "refused installs left the last secret alone" 'cat "$B/conf/cluster/domain-secret"' " spaced key "

# ---- API key and certificate -----------------------------------------------
check "new API certificate is created" 'rc --root "$A" --new-rapi-certificate >/dev/null'
testing "rapi.pem mode is 0600" 'stat -c %a "$dir/rapi.pem"' "600"
testing "rapi.pem holds a key and a certificate" 'grep -- "-----BEGIN" "$dir/rapi.pem"' \
	$'-----BEGIN EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----'
openssl x509 -in "$dir/rapi.pem" -noout -text >"$T/text"
check "openssl parses it: v3, CA:TRUE, ECDSA P-256, ecdsa-with-SHA256, key usage" '
	grep -q "Version: 3 (0x2)" "$T/text" && grep -A1 "Basic Constraints: critical" "$T/text" | grep -q CA:TRUE &&
	grep -q "NIST CURVE: P-256" "$T/text" && grep -q "Signature Algorithm: ecdsa-with-SHA256" "$T/text" &&
	grep -q "Digital Signature, Certificate Sign" "$T/text"'
testing "default names: this host, localhost and loopback addresses" \
	'grep -A1 "Subject Alternative Name" "$T/text" | tail -1 | sed "s/^ *//"' \
	"DNS:$(hostname), DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"
openssl x509 -in "$dir/rapi.pem" -out "$T/api.crt"
testing "it verifies as its own CA, self-signature included" \
	'openssl verify -check_ss_sig -CAfile "$T/api.crt" "$T/api.crt"' "$T/api.crt: OK"
testing "the key in rapi.pem is the certificate's" \
	'diff <(openssl pkey -in "$dir/rapi.pem" -pubout) <(openssl x509 -in "$dir/rapi.pem" -noout -pubkey) && echo same' "same"
testing "--show prints openssl's SHA-256 fingerprint" \
	'rc --root "$A" --show | grep "^rapi-certificate: SHA256" | sed "s/^rapi-certificate: //"' \
	"$(openssl x509 -in "$T/api.crt" -noout -fingerprint -sha256 | sed 's/^sha256/SHA256/')"
check "valid for five years (openssl -checkend)" '
	openssl x509 -in "$T/api.crt" -noout -checkend $((5 * 365 * 86400 - 3600)) &&
	! openssl x509 -in "$T/api.crt" -noout -checkend $((5 * 365 * 86400 + 3600))'
testing "--show-rapi-certificate prints exactly the certificate" \
	'rc --root "$A" --show-rapi-certificate | diff - "$T/api.crt" && echo same' "same"
sum=$(sha256sum <"$dir/rapi.pem")
fails_with "a second certificate needs -f" 'rc --root "$A" --new-rapi-certificate' 1 "an API key and certificate exists already; use -f to replace it"
testing "the refused renewal left rapi.pem alone" 'sha256sum <"$dir/rapi.pem"' "$sum"

check "RSA 2048 with given names" 'rc --root "$A" -f --new-rapi-certificate --rapi-key-type=rsa \
	--rapi-name api.example.com --rapi-name 192.0.2.1 >/dev/null'
openssl x509 -in "$dir/rapi.pem" -noout -text >"$T/text"
check "openssl: RSA 2048, sha256WithRSAEncryption, CN and names as given" '
	grep -q "Public-Key: (2048 bit)" "$T/text" && grep -q "Signature Algorithm: sha256WithRSAEncryption" "$T/text" &&
	grep -q "Subject: CN = api.example.com" "$T/text" &&
	grep -q "DNS:api.example.com, IP Address:192.0.2.1" "$T/text" &&
	grep -q "Digital Signature, Key Encipherment, Certificate Sign" "$T/text"'
check "openssl accepts the RSA key" 'openssl rsa -in "$dir/rapi.pem" -check -noout | grep -q "RSA key ok"'

# Installing a key and certificate made by openssl (Ganeti's rapi.pem layout: key and certificate in one file).
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=imported.example.com -days 30 \
	-keyout "$T/imp.key" -out "$T/imp.crt" 2>/dev/null
cat "$T/imp.key" "$T/imp.crt" >"$T/imp.pem"
check "--rapi-certificate installs openssl's key and certificate" 'rc --root "$B" --rapi-certificate="$T/imp.pem" >/dev/null'
testing "the installed certificate is openssl's" \
	'openssl x509 -in "$B/conf/cluster/rapi.pem" | diff - "$T/imp.crt" && echo same' "same"
testing "--show agrees" 'rc --root "$B" --show | grep "^rapi-certificate: CN" | cut -d, -f1-2' \
	"rapi-certificate: CN imported.example.com, RSA 2048 bits"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -days 1 \
	-keyout "$T/x.key" -out "$T/x.crt" 2>/dev/null
cat "$T/x.key" "$T/imp.crt" >"$T/mismatch.pem"
fails_with "a certificate with another key's private key is refused" \
	'rc --root "$B" -f --rapi-certificate="$T/mismatch.pem"' 1 "not for the private key"
fails_with "a file without a key is refused" 'rc --root "$B" -f --rapi-certificate="$T/imp.crt"' 1 "no private key"
testing "refused installs left rapi.pem alone" \
	'openssl x509 -in "$B/conf/cluster/rapi.pem" | diff - "$T/imp.crt" && echo same' "same"

# ---- Nothing there yet, and usage errors --------------------------------------
testing "--show on an empty root" 'rc --root "$T/empty-root" --show' \
	$'domain-secret: none\nrapi-certificate: none'
fails_with "--show-rapi-certificate without one" 'rc --root "$T/empty-root" --show-rapi-certificate' 1 \
	"no API key and certificate (create one with \`ferry renew-crypto --new-rapi-certificate\`)"
fails_with "nothing to do is a usage error" 'rc --root "$A"' 2 "nothing to do"
fails_with "new and given secret exclude each other" \
	'rc --root "$A" --new-cluster-domain-secret --cluster-domain-secret=x' 2 "exclude each other"
fails_with "unknown key type" 'rc --root "$A" --new-rapi-certificate --rapi-key-type=dsa' 2 "not ec or rsa"
fails_with "--rapi-name needs --new-rapi-certificate" 'rc --root "$A" --rapi-name=x --show' 2 \
	"go with --new-rapi-certificate"
fails_with "a bad name is refused" 'rc --root "$A" -f --new-rapi-certificate --rapi-name="bad name
x"' 1 "printable ASCII"
FERRY_ROOT=$A testing "FERRY_ROOT selects the state root" 'rc --show | grep -c "^domain-secret: fingerprint"' "1"
