#!/bin/sh
# Send a signed request to Onewindow with curl and openssl (RFC 9421 signature, RFC 9530 Content-Digest).
#
# Usage: signed-curl.sh URL KEY_ID KEY ENVELOPE.json
#   KEY: for hmac-sha256, the base64 secret 'onewindow caller add-key --alg hmac-sha256' printed;
#        for ed25519, the path of the caller's private key PEM (openssl genpkey -algorithm ed25519).
# Prints the gateway's answer. docs/api.md explains every line of the signature base.
set -eu
url="${1%/}/v1/requests"; key_id="$2"; key="$3"; envelope="$4"

digest="sha-256=:$(openssl dgst -sha256 -binary "$envelope" | openssl base64 -A):"
nonce="$(openssl rand -hex 16)"
if [ -f "$key" ]; then alg=ed25519; else alg=hmac-sha256; fi
params="(\"@method\" \"@target-uri\" \"content-digest\");created=$(date +%s);nonce=\"$nonce\";keyid=\"$key_id\";alg=\"$alg\""

base="$(mktemp)"; trap 'rm -f "$base"' EXIT
# The signature base: no newline after the last line.
printf '"@method": POST\n"@target-uri": %s\n"content-digest": %s\n"@signature-params": %s' \
    "$url" "$digest" "$params" > "$base"

if [ "$alg" = hmac-sha256 ]; then
    hexkey="$(printf '%s' "$key" | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \n')"
    signature="$(openssl dgst -sha256 -mac HMAC -macopt "hexkey:$hexkey" -binary "$base" | openssl base64 -A)"
else
    signature="$(openssl pkeyutl -sign -inkey "$key" -rawin -in "$base" | openssl base64 -A)"
fi

curl -sS -X POST "$url" \
    -H 'Content-Type: application/json' \
    -H "Idempotency-Key: $(openssl rand -hex 16)" \
    -H "Content-Digest: $digest" \
    -H "Signature-Input: sig1=$params" \
    -H "Signature: sig1=:$signature:" \
    --data-binary "@$envelope"
echo
