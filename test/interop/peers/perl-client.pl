#!/usr/bin/perl
# A Perl Gearman::Client (libgearman-client-perl 2.004) driven by the interop tests.
# Usage: perl perl-client.pl '<json spec>'
#   spec: {"host","port","op": "run"|"bg"|"status", "fn", "payload" (base64),
#          "priority": "normal"|"high"|"low", "exceptions": 0|1, "handle", "timeoutMs" (default 10000)}
# Prints one JSON object per line: the events the task saw, then {"event":"end", ...}.
use strict;
use warnings;
use Gearman::Client;
use JSON::PP ();
use MIME::Base64 qw(encode_base64 decode_base64);

$| = 1;
my $json = JSON::PP->new->canonical;
my $spec = $json->decode($ARGV[0]);
sub out { print $json->encode($_[0]), "\n" }
sub b64 { encode_base64($_[0], '') }

my $client = Gearman::Client->new(
  job_servers => ["$spec->{host}:$spec->{port}"],
  exceptions  => $spec->{exceptions} ? 1 : 0,
);
my $payload  = decode_base64($spec->{payload} // '');
my $priority = $spec->{priority} // 'normal';
my $op       = $spec->{op};

if ($op eq 'run') {
  my $ts = $client->new_task_set;
  $ts->add_task(
    $spec->{fn}, \$payload,
    {
      priority     => $priority,
      on_data      => sub { out({ event => 'data', data => b64(${ $_[0] }) }) },
      on_warning   => sub { out({ event => 'warning', data => b64(${ $_[0] }) }) },
      on_status    => sub { out({ event => 'status', numerator => $_[0], denominator => $_[1] }) },
      on_complete  => sub { out({ event => 'complete', data => b64(${ $_[0] }) }) },
      on_fail      => sub { out({ event => 'fail' }) },
      on_exception => sub { out({ event => 'exception', data => b64($_[0]) }) },
    }
  );
  $ts->wait(timeout => ($spec->{timeoutMs} // 10000) / 1000);
  out({ event => 'end' });
}
elsif ($op eq 'bg') {
  my $handle = $client->dispatch_background($spec->{fn}, \$payload, { priority => $priority });
  out({ event => 'end', handle => $handle });
}
elsif ($op eq 'status') {
  my $s = $client->get_status($spec->{handle});
  out({ event => 'end', status => $s ? [$s->known ? 1 : 0, $s->running ? 1 : 0, $s->progress] : undef });
}
else {
  die "unknown op $op\n";
}
