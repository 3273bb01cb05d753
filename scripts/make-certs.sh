#!/usr/bin/env bash
# Certificates for local use and the test suite: a CA, a server certificate valid for
# 127.0.0.1 and localhost (Mosquitto, InfluxDB), and one client certificate per name.
#
#   scripts/make-certs.sh DIR [CLIENT_NAME...]     (default client: groundwatch)
#
# Writes DIR/ca.crt, DIR/ca.key, DIR/server.crt, DIR/server.key and DIR/<name>.crt/.key.
# Keys are readable by their owner only. An existing CA in DIR is reused, so certificates
# made later still chain to it. For production, use your organisation's CA instead.
set -euo pipefail

dir=${1:?usage: make-certs.sh DIR [CLIENT_NAME...]}
shift
clients=("$@")
[ ${#clients[@]} -gt 0 ] || clients=(groundwatch)
days=${CERT_DAYS:-825}
server_names=${SERVER_NAMES:-"DNS:localhost,IP:127.0.0.1"}

mkdir -p "$dir"
umask 077
cd "$dir"

if [ ! -f ca.key ] || [ ! -f ca.crt ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days "$days" \
    -keyout ca.key -out ca.crt -subj "/CN=groundwatch local CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

issue() {  # name subject extensions
  local name=$1 subject=$2 ext=$3
  openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$name.key" -out "$name.csr" \
    -subj "$subject" 2>/dev/null
  printf '%b' "$ext" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
    -days "$days" -sha256 -out "$name.crt" -extfile "$name.ext" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue server "/CN=localhost" \
  "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=$server_names\n"
for name in "${clients[@]}"; do
  issue "$name" "/CN=$name" \
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n"
done
# The certificates are public; the CA stays private to whoever runs this script.
chmod 644 ca.crt server.crt "${clients[@]/%/.crt}"
echo "certificates in $dir: ca.crt server.crt/key ${clients[*]/%/.crt/key}"
