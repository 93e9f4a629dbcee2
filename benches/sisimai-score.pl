#!/usr/bin/perl
# Scores Sisimai (Debian's libsisimai-perl) on tests/corpus the way tests/corpus_accuracy.rs
# scores backscatter, for a side-by-side figure. Not part of the test suite.
# Usage: perl benches/sisimai-score.pl [tests/corpus]
use strict;
use warnings;
use Sisimai;
use Time::HiRes qw(time);

my $root = shift // 'tests/corpus';
my (%n, %confusion);
my ($msgs, $secs) = (0, 0);

sub records {
    my $path = shift;
    open my $fh, '<:raw', $path or die "$path: $!";
    local $/; my $text = <$fh>; close $fh;
    $text =~ s/\r\n?/\n/g;                          # Sisimai expects Unix newlines
    $text = "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n$text" unless $text =~ /\AFrom /;
    my $t0 = time;
    my $r = eval { Sisimai->make(\$text, delivered => 1, vacation => 1) } // [];
    $secs += time - $t0; $msgs++;
    return @$r;
}

sub kind_of {
    my @r = @_;
    return 'ordinary' unless @r;
    my %reasons = map { $_->reason => 1 } @r;
    return 'feedback'  if $reasons{feedback};
    return 'autoreply' if $reasons{vacation};
    return 'delivered' if $reasons{delivered} && keys %reasons == 1;
    return 'bounce';
}

for my $set (qw(sisimai ham)) {
    open my $tsv, '<', "$root/$set/labels.tsv" or die "$root/$set/labels.tsv: $!";
    my @head = split /\t/, scalar(<$tsv>) =~ s/\s+\z//r;
    while (my $line = <$tsv>) {
        chomp $line;
        my %row; @row{@head} = split /\t/, $line, -1;
        next if ($row{dup_of} // '') ne '' || $row{kind} eq 'unknown';
        my @r = records("$root/$set/$row{relpath}");
        my $kind = kind_of(@r);
        my $label = $row{kind};
        if ($label eq 'bounce') {
            $n{bounce}++; $n{bounce_ok}++ if $kind eq 'bounce' || $kind eq 'delivered';
            my @want = split /,/, ($row{reasons} // '');
            for my $i (0 .. $#want) {
                next if $want[$i] eq '';
                $n{reasons}++;
                my $got = $r[$i] ? $r[$i]->reason : '(none)';
                if ($got eq $want[$i]) { $n{reasons_ok}++ } else { $confusion{"$want[$i]→$got"}++ }
            }
        } elsif ($label eq 'not-bounce') {
            $n{ham}++;
            if ($kind ne 'ordinary') { $n{ham_fp}++; print "false positive: $set/$row{relpath} ($kind)\n" }
        } else {
            $n{$label}++; $n{"${label}_ok"}++ if $kind eq $label;
        }
    }
}

printf "Sisimai %s on %s\n", $Sisimai::VERSION, $root;
printf "bounce recall      %d/%d = %.1f%%\n", $n{bounce_ok} // 0, $n{bounce}, 100 * ($n{bounce_ok} // 0) / $n{bounce};
printf "%-18s %d/%d\n", $_, $n{"${_}_ok"} // 0, $n{$_} // 0 for qw(delivered feedback autoreply);
printf "ham false positives %d/%d\n", $n{ham_fp} // 0, $n{ham};
printf "reason agreement   %d/%d = %.1f%%\n", $n{reasons_ok} // 0, $n{reasons}, 100 * ($n{reasons_ok} // 0) / $n{reasons};
printf "speed              %.0f messages/s (Sisimai->make only, %d messages)\n", $msgs / $secs, $msgs;
my @top = (sort { $confusion{$b} <=> $confusion{$a} || $a cmp $b } keys %confusion)[0 .. 14];
print "top confusion pairs (label→sisimai):\n";
printf "  %-32s %d\n", $_, $confusion{$_} for grep { defined } @top;
