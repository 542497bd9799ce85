#!/usr/bin/perl
# Peer client for `npm run bench:peers`: Perl Mail::IMAPClient, the usual import loop.
#
#     imapclient.pl HOST PORT USER MAILDIR [PREFIX]      (password in MM_BENCH_PASSWORD)
#
# One $imap->append($folder, $text) per file, in name order: INBOX from MAILDIR's cur/ and new/, then each Maildir++
# folder ".Name" (sorted) into PREFIX."Name" (PREFIX: the server's personal namespace, "" or "INBOX."), created first
# — one folder after another, as a migration script does. Mail::IMAPClient sends the command line, waits for the '+'
# continuation, then writes literal and CRLF in one write (shared/docs/measurements.md "Write modes: coalesce"); it
# leaves Nagle on. Prints one JSON line: {"appended": n, "bytes": b, "seconds": s}, login through logout.
use strict;
use warnings;
use Mail::IMAPClient;
use Time::HiRes qw(clock_gettime CLOCK_MONOTONIC);

my ($host, $port, $user, $maildir, $prefix) = @ARGV;
die "usage: imapclient.pl HOST PORT USER MAILDIR [PREFIX]\n" unless defined $maildir;
$prefix //= '';
my $password = $ENV{MM_BENCH_PASSWORD} // die "MM_BENCH_PASSWORD is not set\n";

# The messages of one Maildir folder, cur/ then new/, in name order.
sub files_of {
    my ($dir) = @_;
    my @files;
    for my $sub ('cur', 'new') {
        my $d = "$dir/$sub";
        next unless -d $d;
        opendir(my $dh, $d) or die "cannot list $d: $!\n";
        push @files, map { "$d/$_" } sort grep { !/^\./ } readdir($dh);
        closedir($dh);
    }
    return @files;
}

opendir(my $root, $maildir) or die "cannot list $maildir: $!\n";
my @folders = sort grep { /^\.[^.]/ && -d "$maildir/$_/cur" } readdir($root);
closedir($root);

my $t0 = clock_gettime(CLOCK_MONOTONIC);
my $imap = Mail::IMAPClient->new(Server => $host, Port => $port, User => $user, Password => $password, Uid => 1)
    or die "connect/login failed: $@\n";
my ($appended, $bytes) = (0, 0);
for my $job (['INBOX', $maildir], map { [$prefix . substr($_, 1), "$maildir/$_"] } @folders) {
    my ($target, $dir) = @$job;
    if ($target ne 'INBOX' && !$imap->exists($target)) {
        $imap->create($target) or do { print qq({"error": "CREATE $target failed"}\n); exit 1 };
    }
    for my $path (files_of($dir)) {
        open(my $fh, '<:raw', $path) or die "cannot read $path: $!\n";
        local $/;
        my $text = <$fh>;
        close($fh);
        defined $imap->append($target, $text) or do { print qq({"error": "APPEND failed"}\n); exit 1 };
        $appended++;
        $bytes += length($text);
    }
}
$imap->logout;
my $secs = clock_gettime(CLOCK_MONOTONIC) - $t0;
print qq({"appended": $appended, "bytes": $bytes, "seconds": $secs}\n);
