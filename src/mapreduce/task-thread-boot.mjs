// Worker threads do not inherit the tsx loader of their parent: register it, then load the
// TypeScript entry named by the parent. The package's tsconfig maps `geartrain/jobs` (what the
// built-in jobs import) to its source, wherever the process was started.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';

register({ tsconfig: fileURLToPath(new URL('../../tsconfig.json', import.meta.url)) });
await import(workerData.entry);
