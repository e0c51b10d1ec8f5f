<?php
// A PHP GearmanWorker (php-gearman over libgearman) serving the interop tests' functions.
// Usage: php php-worker.php '<json spec>'   spec: {"host","port"}
//   php.echo      returns the workload unchanged (every byte)
//   php.stream    one WORK_DATA per line ("<i>:<line>") each followed by WORK_STATUS i/n,
//                 one WORK_WARNING, then completes with "<n> lines"
//   php.fail      WORK_FAIL
//   php.exception WORK_EXCEPTION "php says no: <workload>"
//   php.hold      WORK_STATUS 1/2, then waits (up to 20 s) for the file named by the workload to
//                 exist, then completes with "released"
// Runs until killed. Loops on returnCode(): work() returns false after a failed job (peers §2.4.4).

$spec = json_decode($argv[1], true, 512, JSON_THROW_ON_ERROR);
$w = new GearmanWorker();
$w->addServer($spec['host'], (int)$spec['port']);

$w->addFunction('php.echo', function (GearmanJob $job) { return $job->workload(); });

$w->addFunction('php.stream', function (GearmanJob $job) {
  $lines = explode("\n", rtrim($job->workload(), "\n"));
  $n = count($lines);
  foreach ($lines as $i => $line) {
    $job->sendData(($i + 1) . ':' . $line);
    $job->sendStatus($i + 1, $n);
  }
  $job->sendWarning('php warning');
  return "$n lines";
});

$w->addFunction('php.fail', function (GearmanJob $job) {
  $job->sendFail();
  $job->setReturn(GEARMAN_WORK_FAIL);
  return null;
});

$w->addFunction('php.exception', function (GearmanJob $job) {
  $job->sendException('php says no: ' . $job->workload());
  $job->setReturn(GEARMAN_WORK_EXCEPTION);
  return null;
});

$w->addFunction('php.hold', function (GearmanJob $job) {
  $job->sendStatus(1, 2);
  $deadline = microtime(true) + 20;
  while (!file_exists($job->workload()) && microtime(true) < $deadline) usleep(10000);
  return 'released';
});

for (;;) {
  $w->work();
  $rc = $w->returnCode();
  if ($rc === GEARMAN_NO_ACTIVE_FDS || $rc === GEARMAN_COULD_NOT_CONNECT) {
    fwrite(STDERR, "php worker: " . $w->error() . "\n");
    exit(1);
  }
}
