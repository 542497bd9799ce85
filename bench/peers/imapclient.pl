#!/usr/bin/perl
# Peer client for `npm run bench:peers`: Perl Mail::IMAPClient, the usual import loop.
#
#     imapclient.pl HOST PORT USER MAILDIR      (password in MM_BENCH_PASSWORD)
#
# One $imap->append('INBOX', $text) per file, in name order. Mail::IMAPClient sends the command line, waits for
# the '+' continuation, then writes literal and CRLF in one write (shared/docs/measurements.md "Write modes: coalesce"); it
# leaves Nagle on. Prints one JSON line: {"appended": n, "bytes": b, "seconds": s}, login through logout.
use strict;
use warnings;
use Mail::IMAPClient;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my ($host, $port, $user, $maildir) = @ARGV;
die "usage: imapclient.pl HOST PORT USER MAILDIR\n" unless defined $maildir;
my $password = $ENV{MM_BENCH_PASSWORD} // die "MM_BENCH_PASSWORD is not set\n";

my @files;
for my $sub ('cur', 'new') {
    my $d = "$maildir/$sub";
    next unless -d $d;
    opendir(my $dh, $d) or die "cannot list $d: $!\n";
    push @files, map { "$d/$_" } sort grep { !/^\./ } readdir($dh);
    closedir($dh);
}

my $t0 = clock_gettime(CLOCK_MONOTONIC);
my $imap = Mail::IMAPClient->new(Server => $host, Port => $port, User => $user, Password => $password, Uid => 1)
    or die "connect/login failed: $@\n";
my ($appended, $bytes) = (0, 0);
for my $path (@files) {
    open(my $fh, '<:raw', $path) or die "cannot read $path: $!\n";
    local $/;
    my $text = <$fh>;
    close($fh);
    defined $imap->append('INBOX', $text) or do { print qq({"error": "APPEND failed"}\n); exit 1 };
    $appended++;
    $bytes += length($text);
}
$imap->logout;
my $secs = clock_gettime(CLOCK_MONOTONIC) - $t0;
print qq({"appended": $appended, "bytes": $bytes, "seconds": $secs}\n);
