// Worker threads do not inherit the tsx loader of their parent: register it, then load the
// TypeScript entry named by the parent.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
