<?php
// A PHP GearmanClient (php-gearman over libgearman) driven by the interop tests.
// Usage: php php-client.php '<json spec>'
//   spec: {"host","port","op": "run"|"do"|"bg"|"status", "fn", "payload" (base64),
//          "priority": "normal"|"high"|"low", "unique", "handle", "timeoutMs" (default 10000)}
// Prints one JSON object per line: the events the client saw, then {"event":"end", ...}.
// Binary data is base64 so every byte crossing the boundary is compared exactly.

$spec = json_decode($argv[1], true, 512, JSON_THROW_ON_ERROR);
$out = function (array $o) { echo json_encode($o, JSON_UNESCAPED_SLASHES), "\n"; };
$payload = base64_decode($spec['payload'] ?? '');
$priority = $spec['priority'] ?? 'normal';
$unique = $spec['unique'] ?? null;

$c = new GearmanClient();
$c->addServer($spec['host'], (int)$spec['port']);
$c->setTimeout((int)($spec['timeoutMs'] ?? 10000));

switch ($spec['op']) {
  case 'run':
    // Tasks with every callback: data, warning, status, complete, fail, exception.
    $c->setCreatedCallback(function ($t) use ($out) { $out(['event' => 'created']); });
    $c->setDataCallback(function ($t) use ($out) { $out(['event' => 'data', 'data' => base64_encode($t->data())]); });
    $c->setWarningCallback(function ($t) use ($out) { $out(['event' => 'warning', 'data' => base64_encode($t->data())]); });
    $c->setStatusCallback(function ($t) use ($out) {
      $out(['event' => 'status', 'numerator' => $t->taskNumerator(), 'denominator' => $t->taskDenominator()]);
    });
    $c->setCompleteCallback(function ($t) use ($out) { $out(['event' => 'complete', 'data' => base64_encode($t->data())]); });
    $c->setFailCallback(function ($t) use ($out) { $out(['event' => 'fail']); });
    $c->setExceptionCallback(function ($t) use ($out) { $out(['event' => 'exception', 'data' => base64_encode($t->data())]); });
    $add = ['normal' => 'addTask', 'high' => 'addTaskHigh', 'low' => 'addTaskLow'][$priority];
    $c->$add($spec['fn'], $payload, null, $unique);
    $ok = $c->runTasks();
    $out(['event' => 'end', 'ok' => $ok, 'rc' => $c->returnCode()]);
    break;

  case 'do':
    $do = ['normal' => 'doNormal', 'high' => 'doHigh', 'low' => 'doLow'][$priority];
    $result = $c->$do($spec['fn'], $payload, $unique);
    $out(['event' => 'end', 'data' => base64_encode($result), 'rc' => $c->returnCode(), 'success' => $c->returnCode() === GEARMAN_SUCCESS]);
    break;

  case 'bg':
    $do = ['normal' => 'doBackground', 'high' => 'doHighBackground', 'low' => 'doLowBackground'][$priority];
    $handle = $c->$do($spec['fn'], $payload, $unique);
    $out(['event' => 'end', 'handle' => $handle, 'success' => $c->returnCode() === GEARMAN_SUCCESS]);
    break;

  case 'status':
    $s = $c->jobStatus($spec['handle']);
    $out(['event' => 'end', 'status' => $s, 'success' => $c->returnCode() === GEARMAN_SUCCESS]);
    break;

  default:
    fwrite(STDERR, "unknown op\n");
    exit(2);
}
