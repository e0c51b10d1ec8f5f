#!/usr/bin/perl
# Gearman::Client / Gearman::Worker (libgearman-client-perl 2.004, TLS through IO::Socket::SSL):
# an independent TLS client for the security tests.
# Usage: perl perl-tls.pl '<json spec>'
#   spec: {"role": "client"|"worker", "host", "port", "ca_file", "cert_file", "key_file",
#          "fn", "payload" (client), "prefix" (worker: reply prefix)}
# client: runs one job, prints {"event":"complete","data":...} or {"event":"fail"} then {"event":"end"}.
# worker: serves FN with "<prefix><workload>" until killed.
use strict;
use warnings;
use Gearman::Client;
use Gearman::Worker;
use JSON::PP ();

$| = 1;
my $json = JSON::PP->new->canonical;
my $spec = $json->decode($ARGV[0]);
sub out { print $json->encode($_[0]), "\n" }

my %server = (host => $spec->{host}, port => $spec->{port}, use_ssl => 1);
for my $k (qw(ca_file cert_file key_file)) {
  $server{$k} = $spec->{$k} if defined $spec->{$k};
}

if ($spec->{role} eq 'worker') {
  my $worker = Gearman::Worker->new(job_servers => [\%server]);
  my $prefix = $spec->{prefix} // '';
  $worker->register_function($spec->{fn} => sub { $prefix . $_[0]->arg });
  $worker->work while 1;
}
else {
  my $client = Gearman::Client->new(job_servers => [\%server]);
  my $payload = $spec->{payload} // '';
  my $ts = $client->new_task_set;
  if (!$ts) {
    out({ event => 'end', error => 'no connection' });
    exit 0;
  }
  $ts->add_task(
    $spec->{fn}, \$payload,
    {
      on_complete => sub { out({ event => 'complete', data => ${ $_[0] } }) },
      on_fail     => sub { out({ event => 'fail' }) },
    }
  );
  $ts->wait(timeout => 10);
  out({ event => 'end' });
}
