/**
 * A worker that turns a JPEG (or PNG, WebP…) into a 200×150 JPEG thumbnail, with sharp.
 *
 *   npm ci --prefix examples/resize          # sharp, this example's own dependency
 *   node --import tsx examples/resize/worker.ts
 *   geartrain job -f resize < large.jpg > thumb.jpg
 *
 * The image is cropped to fill 200×150 (no bars) around its centre, after turning it upright
 * according to its EXIF orientation. A payload that is not an image fails the job with the
 * decoder's message as the exception.
 */
import sharp from 'sharp';
import { Worker } from '../../src/client/index.ts';

export const THUMB_WIDTH = 200;
export const THUMB_HEIGHT = 150;

/** The thumbnail of one image, as JPEG bytes. */
export function thumbnail(image: Buffer): Promise<Buffer> {
  return sharp(image, { failOn: 'error' })
    .rotate()
    .resize(THUMB_WIDTH, THUMB_HEIGHT, { fit: 'cover', position: 'centre' })
    .jpeg({ quality: 80, mozjpeg: true })
    .toBuffer();
}

const worker = new Worker({ servers: process.env.GEARMAN_SERVERS, concurrency: 2 });
worker.register('resize', (job) => thumbnail(job.payload), { timeoutMs: 60_000 });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void worker.close());
await worker.start();
console.log(`serving "resize" on ${worker.options.servers.map((s) => s.id).join(', ')}`);
await worker.closed();
