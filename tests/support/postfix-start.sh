#!/bin/bash
# usage: postfix-start.sh DIR   (must run as root) -> isolated Postfix instance, config in DIR/etc
# $EXTRA_MAIN_CF, if set, is appended to main.cf (e.g. virtual_alias_maps for prvs= tags).
set -e
T=$(realpath -m "$1")
mkdir -p "$T/etc" "$T/spool" "$T/data" "$T/mail"
chmod 755 "$T"   # temp dirs are 0700; postfix daemons and delivery (uid 65534) must traverse it
cp /etc/postfix/master.cf "$T/etc/master.cf"
printf 'alice@test.invalid alice/Maildir/\nbob@test.invalid bob/Maildir/\n' > "$T/etc/vmailbox"
cat > "$T/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $T/spool
data_directory = $T/data
myhostname = mx.test.invalid
mydomain = test.invalid
myorigin = test.invalid
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
master_service_disable = inet
maillog_file_prefixes = /var, /dev/stdout, $T
maillog_file = $T/maillog
alias_maps =
alias_database =
local_recipient_maps =
virtual_mailbox_domains = test.invalid
virtual_mailbox_base = $T/mail
virtual_mailbox_maps = texthash:$T/etc/vmailbox
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_transport = error:outbound mail disabled in tests
relay_transport = error:outbound mail disabled in tests
smtputf8_enable = no
biff = no
${EXTRA_MAIN_CF:-}
CONF
postconf -c "$T/etc" -F '*/*/chroot = n'
chown 65534:65534 "$T/mail"
chown postfix "$T/data"
postfix -c "$T/etc" start
