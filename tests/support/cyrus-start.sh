#!/bin/bash
# usage: cyrus-start.sh DIR PORT -> a standalone Cyrus IMAP 3.6 in DIR listening on 127.0.0.1:PORT,
# users alice, bob and the admin cyrusadm (password "secret"); starts master in the background
# and writes DIR/master.pid. EXTRA (env) is appended to imapd.conf, e.g. "altnamespace: yes".
# Binaries: master from cyrus-common, imapd and idled unpacked from cyrus-imapd into $CYRUS_IMAPD
# (tests/run does; the package conflicts with dovecot-imapd).
set -e
T=$(realpath -m "$1"); PORT=$2
BIN=${CYRUS_IMAPD:-/opt/cyrus-imapd}/usr/lib/cyrus/bin
# imapd binds its IDLE socket as configdirectory/socket/idle.PID: that directory must exist, or
# idled never hears of new mail and an IDLE client waits for imapd's 60 s poll.
mkdir -p "$T/config/socket" "$T/spool" "$T/run/proc" "$T/run/lock"
cat > "$T/imapd.conf" <<CONF
configdirectory: $T/config
partition-default: $T/spool
defaultpartition: default
proc_path: $T/run/proc
mboxname_lockpath: $T/run/lock
lmtpsocket: $T/config/socket/lmtp
idlesocket: $T/config/socket/idle
notifysocket: $T/config/socket/notify
admins: cyrusadm
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $T/sasldb2
sasl_mech_list: PLAIN LOGIN
autocreate_quota: 0
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
