# Files what the backscatter milter judged backscatter into the Backscatter folder.
#
# The milter (backscatter milter, in front of Postfix or Sendmail) adds
#   X-Backscatter: <verdict>; <why>
# to every message it judges, after removing any copy that came in with the message, so the
# header can be trusted when the milter runs on every MX. With the milter's `action = "header"`
# (or in monitor mode and the grace period) nothing is refused at SMTP time: this script does the
# filing. Use it as a user's script or, for every mailbox, as a global sieve_before script
# (contrib/dovecot/90-backscatter.conf).
require ["fileinto", "mailbox"];

# "backscatter; no carrier …" (no other verdict — genuine, ordinary, exempt — starts so).
if header :matches "X-Backscatter" "backscatter*" {
    fileinto :create "Backscatter";
    stop;
}
