/**
 * The hash index over job-table slots (src/server/slot-index.ts): whatever is added and removed,
 * in whatever order and with however many equal hashes, a lookup finds exactly the slots that
 * are in the index under that hash.
 */
import test from 'ava';
import fc from 'fast-check';
import { SlotIndex } from '../../src/server/slot-index.ts';

/** The slots the index lists under `hash` (the caller's loop of slot-index.ts). */
function lookup(index: SlotIndex, hash: number): number[] {
  const out: number[] = [];
  for (let s = index.first(hash); s !== -1; s = index.next(s)) if (index.hashOf(s) === hash) out.push(s);
  return out.sort((a, b) => a - b);
}

const op = fc.oneof(
  { weight: 3, arbitrary: fc.record({ add: fc.integer({ min: -8, max: 8 }) }) },
  // A hash from anywhere in the int32 range now and then: bucket = hash & mask must hold for negatives.
  { weight: 1, arbitrary: fc.record({ add: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ remove: fc.nat() }) },
);

test('any sequence of adds and removes: every slot is found under its hash and nowhere else, through growth and colliding hashes', (t) => {
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 4000, size: 'max' }), (ops) => {
      let capacity = 4;
      const index = new SlotIndex(capacity);
      const model = new Map<number, number>();
      const removed = new Map<number, number>();
      const free: number[] = [];
      let top = 0;
      for (const o of ops) {
        if ('add' in o) {
          let slot = free.pop();
          if (slot === undefined) {
            if (top === capacity) index.grow((capacity *= 2));
            slot = top++;
          }
          index.add(slot, o.add);
          model.set(slot, o.add);
          removed.delete(slot);
        } else if (model.size > 0) {
          const slots = [...model.keys()];
          const slot = slots[o.remove % slots.length]!;
          index.delete(slot);
          removed.set(slot, model.get(slot)!);
          model.delete(slot);
          free.push(slot);
        }
      }
      if (index.size !== model.size) throw new Error(`size ${index.size}, expected ${model.size}`);
      const byHash = new Map<number, number[]>();
      for (const [slot, hash] of model) byHash.set(hash, [...(byHash.get(hash) ?? []), slot]);
      for (const [hash, slots] of byHash) {
        const found = lookup(index, hash);
        if (found.join() !== slots.sort((a, b) => a - b).join()) throw new Error(`hash ${hash}: found [${found}], expected [${slots}]`);
      }
      for (const [slot, hash] of removed) if (lookup(index, hash).includes(slot)) throw new Error(`removed slot ${slot} still listed under ${hash}`);
    }),
    { numRuns: 60 },
  );
  t.pass();
});
