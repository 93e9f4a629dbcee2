# Files backscatter into the Backscatter folder, asking `backscatter check` at delivery time:
# for Dovecot without the milter in front of it.
#
# The message is piped to the program `backscatter-check` in sieve_execute_bin_dir
# (contrib/dovecot/sieve-execute/backscatter-check, which runs `backscatter check`). Its exit
# status decides: 0 = backscatter (filed), 1 = keep, 75 = could not decide (kept; Dovecot logs
# the exit code, and the reason goes to the delivery agent's stderr). It needs the Pigeonhole
# extprograms plugin with vnd.dovecot.execute enabled for global scripts:
# contrib/dovecot/90-backscatter.conf. Use it as a sieve_before script, so that users cannot
# call programs of their own.
require ["fileinto", "mailbox", "vnd.dovecot.execute"];

if execute :pipe "backscatter-check" {
    fileinto :create "Backscatter";
    stop;
}
