import t from 'tap';
import { ResyncSchedule } from '../../../src/daemon/resync-schedule.js';
import { ManualClock } from '../../fakes/manual-clock.js';

function setup(): { clock: ManualClock; schedule: ResyncSchedule; rings: number[]; stop: AbortController } {
  const clock = new ManualClock();
  const rings: number[] = [];
  const stop = new AbortController();
  const schedule = new ResyncSchedule({ intervalMs: 10_000, clock, onDue: () => rings.push(clock.now()) }, stop.signal);
  return { clock, schedule, rings, stop };
}

t.test('the first pass is a resync; the next is due one interval after the resync ended, and wakes the loop', async (t) => {
  const { clock, schedule, rings } = setup();
  t.equal(schedule.due, true);
  await clock.advance(500);
  schedule.resynced();
  t.equal(schedule.due, false);
  await clock.advance(9_999);
  t.equal(schedule.due, false);
  t.same(rings, []);
  await clock.advance(1);
  t.equal(schedule.due, true);
  t.same(rings, [10_500]);
});

t.test('event passes in between do not postpone it (a loop waiting an interval after every pass would)', async (t) => {
  const { clock, schedule, rings } = setup();
  schedule.resynced();
  for (let i = 0; i < 20; i++) {
    await clock.advance(1_000);
    if (!schedule.due) continue; // an event pass: nothing recorded
    schedule.resynced();
  }
  t.same(rings, [10_000, 20_000]);
});

t.test('a new resync restarts the interval; stopping ends the timer', async (t) => {
  const { clock, schedule, rings, stop } = setup();
  schedule.resynced();
  await clock.advance(6_000);
  schedule.resynced(); // e.g. the loop resynced early
  await clock.advance(6_000);
  t.same(rings, [], 'the first timer was cancelled');
  t.equal(clock.pending, 1);
  stop.abort();
  await clock.advance(0);
  t.equal(clock.pending, 0);
  await clock.advance(20_000);
  t.same(rings, []);
});
