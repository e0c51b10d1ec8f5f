#!/usr/bin/perl
# A Perl Gearman::Worker (libgearman-client-perl 2.004) serving the interop tests' functions.
# Usage: perl perl-worker.pl '<json spec>'   spec: {"host","port"}
#   perl.echo          returns the workload unchanged (every byte)
#   perl.stream        one WORK_DATA per line ("<i>:<line>") each followed by a correct
#                      WORK_STATUS i/n ($job->set_status), then completes with "<n> lines"
#   perl.status-broken $worker->send_work_status($job, 1, 3) (drops the denominator: peers §2.4.3),
#                      then completes with "after status"
#   perl.fail          returns undef: WORK_FAIL
#   perl.die           dies: WORK_EXCEPTION (Storable-frozen message) then WORK_FAIL (peers §2.4.1)
#   perl.hold          WORK_STATUS 1/2, waits (up to 20 s) for the file named by the workload, completes
# Runs until killed (or until Gearman::Worker itself dies).
use strict;
use warnings;
use Gearman::Worker;
use JSON::PP ();
use Time::HiRes qw(time sleep);

$| = 1;
my $spec = JSON::PP->new->decode($ARGV[0]);
my $worker = Gearman::Worker->new(job_servers => ["$spec->{host}:$spec->{port}"]);

$worker->register_function('perl.echo' => sub { $_[0]->arg });

$worker->register_function('perl.stream' => sub {
  my $job = shift;
  (my $text = $job->arg) =~ s/\n+\z//;
  my @lines = split /\n/, $text, -1;
  my $n = @lines;
  for my $i (0 .. $#lines) {
    $worker->send_work_data($job, ($i + 1) . ':' . $lines[$i]);
    $job->set_status($i + 1, $n);
  }
  return "$n lines";
});

$worker->register_function('perl.status-broken' => sub {
  my $job = shift;
  $worker->send_work_status($job, 1, 3);
  return 'after status';
});

$worker->register_function('perl.fail' => sub { return undef });

$worker->register_function('perl.die' => sub { die 'perl says no: ' . $_[0]->arg . "\n" });

$worker->register_function('perl.hold' => sub {
  my $job = shift;
  $job->set_status(1, 2);
  my $deadline = time + 20;
  sleep 0.01 while !-e $job->arg && time < $deadline;
  return 'released';
});

$worker->work while 1;
