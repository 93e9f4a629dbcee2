#!/bin/bash
# usage: cyrus-start.sh DIR PORT -> a standalone Cyrus IMAP 3.6 in DIR listening on 127.0.0.1:PORT,
# users alice, bob and the admin cyrusadm (password "secret"); starts master in the background
# and writes DIR/master.pid. EXTRA (env) is appended to imapd.conf, e.g. "altnamespace: yes".
# Binaries: master from cyrus-common, imapd and idled unpacked from cyrus-imapd into $CYRUS_IMAPD
# (tests/run does; the package conflicts with dovecot-imapd).
set -e
T=$(realpath -m "$1"); PORT=$2
BIN=${CYRUS_IMAPD:-/opt/cyrus-imapd}/usr/lib/cyrus/bin
mkdir -p "$T/config" "$T/spool" "$T/run/proc" "$T/run/lock" "$T/run/socket"
cat > "$T/imapd.conf" <<CONF
configdirectory: $T/config
partition-default: $T/spool
defaultpartition: default
proc_path: $T/run/proc
mboxname_lockpath: $T/run/lock
lmtpsocket: $T/run/socket/lmtp
idlesocket: $T/run/socket/idle
notifysocket: $T/run/socket/notify
admins: cyrusadm
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $T/sasldb2
sasl_mech_list: PLAIN LOGIN
autocreate_quota: 0
# imapd looks for changes during IDLE this often (s); idled's notifications did not reach imapd
# in this standalone setup, and without either an IDLE client hears of new mail after 60 s.
imapidlepoll: 1
servername: localhost
syslog_prefix: cyrus-test-$PORT
${EXTRA}
CONF
# Debian's defaults (upstream 3.x defaults to yes) unless EXTRA says otherwise.
for key in altnamespace unixhierarchysep; do
  grep -q "^$key:" "$T/imapd.conf" || echo "$key: no" >> "$T/imapd.conf"
done
cat > "$T/cyrus.conf" <<CONF
START {
  recover cmd="/usr/lib/cyrus/bin/ctl_cyrusdb -C $T/imapd.conf -r"
}
SERVICES {
  imap cmd="$BIN/imapd -C $T/imapd.conf" listen="127.0.0.1:$PORT" prefork=0
}
EVENTS {
}
DAEMON {
  idled cmd="$BIN/idled -C $T/imapd.conf"
}
CONF
for u in cyrusadm alice bob; do
  echo secret | saslpasswd2 -p -c -f "$T/sasldb2" -u localhost "$u"
done
chown -R cyrus:mail "$T"
chmod 755 "$T"
/usr/lib/cyrus/bin/master -C "$T/imapd.conf" -M "$T/cyrus.conf" -p "$T/master.pid" -d
