#!/bin/sh
# usage: dnsmasq.sh PORT [more dnsmasq options, e.g. --txt-record=…]  (foreground; kill by PID)
port=$1; shift
exec dnsmasq --keep-in-foreground --port="$port" --listen-address=127.0.0.1 --bind-interfaces \
  --no-resolv --no-hosts --no-poll --local=/test/ \
  --txt-record=example.test,"v=spf1 ip4:192.0.2.0/24 -all" \
  --txt-record=_dmarc.example.test,"v=DMARC1; p=reject" \
  --host-record=mx.example.test,192.0.2.10 --mx-host=example.test,mx.example.test,10 "$@"
