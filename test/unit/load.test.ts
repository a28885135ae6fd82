// The load monitor behind --max-load, --max-cpu and --max-bandwidth, fed with
// made-up readings: the same arithmetic as the reference (loads and CPU shares as
// integers x 100, "exceeded" from the limit upwards, bandwidth per second).

import { strict as assert } from 'assert';
import { LoadMonitor } from '../../src/stats/load';

function monitor(limits: Partial<{ maxLoad: number; maxCpu: number; maxBandwidth: number }>, readings: {
  load?: number[];
  stat?: string[];
  bytes?: number[];
}): LoadMonitor {
  const load = [...(readings.load ?? [])];
  const stat = [...(readings.stat ?? [])];
  const bytes = [...(readings.bytes ?? [])];
  return new LoadMonitor(
    { maxLoad: 0, maxCpu: 0, maxBandwidth: 0, ...limits },
    {
      loadAverage: () => load.shift() ?? 0,
      procStat: () => stat.shift() ?? null,
      receivedBytes: () => bytes.shift() ?? 0,
    },
  );
}

describe('load monitor', () => {
  it('without limits it is inactive and never refuses', () => {
    const m = monitor({}, {});
    assert.equal(m.active, false);
    m.sample();
    assert.equal(m.exceeded(), null);
  });

  it('refuses at a load average equal to --max-load, as the reference compares x100 integers', () => {
    const m = monitor({ maxLoad: 1.5 }, { load: [1.499, 1.5, 0.2] });
    m.sample();
    assert.equal(m.exceeded(), null);
    m.sample();
    assert.equal(m.exceeded(), 'load');
    m.sample();
    assert.equal(m.exceeded(), null);
  });

  it('computes CPU usage from /proc/stat deltas of user+nice+system against idle', () => {
    const m = monitor({ maxCpu: 50 }, {
      stat: ['cpu  100 0 100 800 5 0 0', 'cpu  130 0 120 850 9 0 0', 'cpu  131 0 120 949 9 0 0'],
    });
    m.sample();  // first reading: no interval yet
    assert.equal(m.cpuUsage100, 0);
    m.sample();  // used 50 of 100 ticks: 50 %
    assert.equal(m.cpuUsage100, 5000);
    assert.equal(m.exceeded(), 'cpu');
    m.sample();  // used 1 of 100
    assert.equal(m.cpuUsage100, 100);
    assert.equal(m.exceeded(), null);
  });

  it('measures received bytes per second, sampling every other half-second tick', () => {
    const m = monitor({ maxBandwidth: 1000 }, { bytes: [0, 1500, 1700] });
    m.sample();  // baseline
    m.sample();  // half a second: not sampled
    m.sample();  // one second on: 1500 bytes
    assert.equal(m.bandwidth, 1500);
    assert.equal(m.exceeded(), 'bandwidth');
    m.sample();
    m.sample();  // 200 bytes in the next second
    assert.equal(m.bandwidth, 200);
    assert.equal(m.exceeded(), null);
  });

  it('reports load before CPU before bandwidth, as the reference checks them', () => {
    const m = monitor({ maxLoad: 1, maxCpu: 1, maxBandwidth: 1 }, {
      load: [5], stat: ['cpu  1 0 0 1', 'cpu  100 0 0 1'], bytes: [0],
    });
    m.sample();
    m.cpuUsage100 = 9000;
    m.bandwidth = 10;
    assert.equal(m.exceeded(), 'load');
    m.loadAverage100 = 0;
    assert.equal(m.exceeded(), 'cpu');
    m.cpuUsage100 = 0;
    assert.equal(m.exceeded(), 'bandwidth');
  });
});
